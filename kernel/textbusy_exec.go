package kernel

// ETXTBSY from execve: Linux refuses to execute a file that any process
// holds open for writing (deny_write_access on the program, each "#!"
// script and the ELF interpreter), and the writer may be any process: the
// caller itself, a fork child that inherited the descriptor, a writable
// shared mapping that outlived its descriptor.
//
// Guest descriptors are host descriptors, so the host kernel already counts
// every writer of the file (its i_writecount), across the whole tree and
// beyond. Nothing in elfuse has to track opens: exec asks the host whether
// the file has writers by taking a read lease on the descriptor it opened
// (fcntl F_SETLEASE F_RDLCK fails with EAGAIN exactly when the inode is open
// for writing) and dropping it at once. Opens and closes, which builds do by
// the thousand, pay nothing; an exec pays two fcntl calls per file.
//
// Limits: a lease needs the caller to own the file or hold CAP_LEASE, and
// leases enabled (fs.leases-enable); when the host refuses the lease for
// such a reason the file counts as free, as before. A writer that opens the
// file during the microseconds the lease is held waits for it to be
// dropped (an O_NONBLOCK open gets EWOULDBLOCK), and the host sends this
// guestproc a SIGIO, which its Go runtime ignores.
//
// The ptrace backend's stub keeps its own descriptors of files the guest
// mapped (hvf/ptrace/files.go, up to 16, in the access mode of the guest's
// descriptor): one mapped from a read-write descriptor stays open for
// writing after munmap until the stub evicts it or the process ends, and
// exec of that file meanwhile fails with ETXTBSY. The KVM backend has no
// such copy.

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// openedForWriting reports whether some process holds fd's file open for
// writing; ok is false when the host cannot tell.
func openedForWriting(fd int) (busy, ok bool) {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK)
		switch err {
		case nil:
			unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
			return false, true
		case unix.EAGAIN:
			return true, true
		case unix.EINTR:
			continue
		default:
			return false, false
		}
	}
}

// denyWriteAccess is Linux's exec-side deny_write_access check on a file
// opened for exec: ETXTBSY when it is a regular executable file that some
// process holds open for writing. Files that exec refuses anyway (not
// regular, no execute bit) are left to openChecked's EACCES, which Linux
// reports first.
func denyWriteAccess(f *os.File) error {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return nil
	}
	if busy, _ := openedForWriting(int(f.Fd())); busy {
		return abi.ETXTBSY
	}
	return nil
}

// openExecDenyWrite is openExecFile followed by the ETXTBSY check.
func (t *Task) openExecDenyWrite(dirfd int32, name string, flags int32) (*os.File, error) {
	f, err := t.openExecFile(dirfd, name, flags)
	if err != nil {
		return nil, err
	}
	if err := denyWriteAccess(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
