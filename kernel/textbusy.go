package kernel

// ETXTBSY: a file some guest process is executing (its program or its ELF
// interpreter) cannot be opened for writing or truncated, as on Linux
// (deny_write_access). Which files run is known only to the whole tree, so
// the process tells its host the files of its image at start and at every
// exec (TextHost.SetImage), and asks before it writes into an existing,
// non-empty executable file (TextHost.TextBusy): a regular file with an
// execute bit and data, the only kind that can be a running image. Files
// just created or emptied, data files and directories never ask, so build
// tools writing objects and fresh programs pay nothing.
//
// The other half, execve of a file some process holds open for writing,
// is in textbusy_exec.go.

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// FileID names a host file: device and inode.
type FileID struct {
	Dev, Ino uint64
}

// TextHost is the optional part of a Host that knows which files the
// tree's processes execute.
type TextHost interface {
	// SetImage records the files this process now executes.
	SetImage(files []FileID)
	// TextBusy reports whether some process of the tree executes file.
	TextBusy(file FileID) bool
}

// imageFiles returns the identities of x's program file and interpreter.
func (x *Executable) imageFiles() []FileID {
	var ids []FileID
	for _, f := range []*os.File{x.file, x.interp} {
		if f == nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil {
			ids = append(ids, FileID{Dev: st.Dev, Ino: st.Ino})
		}
	}
	return ids
}

// noteImage tells the host which files p now executes.
func (p *Process) noteImage(x *Executable) {
	if p.Kernel == nil {
		return
	}
	if th, ok := p.Kernel.Host.(TextHost); ok {
		th.SetImage(x.imageFiles())
	}
}

// textBusy returns ETXTBSY when st, a file opened or about to be written,
// is an executable file some guest process runs.
func (t *Task) textBusy(st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 || st.Size == 0 || t.Proc.Kernel == nil {
		return nil
	}
	th, ok := t.Proc.Kernel.Host.(TextHost)
	if ok && th.TextBusy(FileID{Dev: st.Dev, Ino: st.Ino}) {
		return abi.ETXTBSY
	}
	return nil
}

// writesFile reports whether open flags ask for write access.
func writesFile(flags int) bool {
	acc := flags & abi.O_ACCMODE
	return acc == abi.O_WRONLY || acc == abi.O_RDWR
}

// openedForWrite finishes an open for writing: ETXTBSY for a running
// program, then the O_TRUNC held back (regular files only: Linux ignores
// O_TRUNC on FIFOs and devices).
func (t *Task) openedForWrite(hostfd int, trunc bool) error {
	var st unix.Stat_t
	if unix.Fstat(hostfd, &st) != nil {
		return nil
	}
	if err := t.textBusy(&st); err != nil {
		return err
	}
	if !trunc || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	return unix.Ftruncate(hostfd, 0)
}
