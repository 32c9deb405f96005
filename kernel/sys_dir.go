package kernel

import (
	"bytes"
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Directories: reading entries and the working directory. The guest's cwd
// is the guestproc's own (one guest process per host process).

func init() {
	register(map[uint64]Syscall{
		abi.SYS_GETDENTS64: {Name: "getdents64", Fn: Getdents64},
		abi.SYS_GETDENTS:   {Name: "getdents", Fn: Getdents},
		abi.SYS_GETCWD:     {Name: "getcwd", Fn: Getcwd},
		abi.SYS_CHDIR:      {Name: "chdir", Fn: Chdir},
		abi.SYS_FCHDIR:     {Name: "fchdir", Fn: Fchdir},
	})
}

// Getdents64 implements Linux syscall getdents64(2). The host writes its
// struct linux_dirent64 records, which have the guest's layout, straight
// into guest memory.
func Getdents64(t *Task, a *Args) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	buf, err := t.ioBuf(a.Addr(1), uint64(a.Uint(2)), true)
	if err != nil {
		return 0, err
	}
	if f.fdDir != nil {
		n, err := f.fdDir.getdents(t.Proc.FDs, buf)
		return uint64(n), err
	}
	n, err := unix.Getdents(f.FD(), buf)
	if err == unix.ENOTDIR {
		if sn, ok, serr := t.synthGetdents(f.FD(), buf); ok {
			return uint64(sn), serr
		}
	}
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// maxGetdentsBounce bounds the host buffer getdents(2) converts through.
const maxGetdentsBounce = 256 << 10

// Getdents implements Linux syscall getdents(2): the host's dirent64
// records are converted to the old struct linux_dirent, which has the same
// record length (d_type moves from before the name to the record's last
// byte).
func Getdents(t *Task, a *Args) (uint64, error) {
	f, err := t.Proc.FDs.Acquire(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	buf := make([]byte, min(uint64(a.Uint(2)), maxGetdentsBounce))
	var n int
	if f.fdDir != nil {
		n, err = f.fdDir.getdents(t.Proc.FDs, buf)
	} else {
		n, err = unix.Getdents(f.FD(), buf)
		if err == unix.ENOTDIR {
			if sn, ok, serr := t.synthGetdents(f.FD(), buf); ok {
				n, err = sn, serr
			}
		}
	}
	if err != nil {
		return 0, err
	}
	buf = buf[:n]
	if err := direntsFrom64(buf); err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a.Addr(1), buf); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// direntsFrom64 rewrites a buffer of linux_dirent64 records in place as
// linux_dirent records.
func direntsFrom64(buf []byte) error {
	for off := 0; off < len(buf); {
		if len(buf)-off < abi.SizeofDirent64Head {
			return abi.EIO
		}
		rec := buf[off:]
		reclen := int(binary.LittleEndian.Uint16(rec[16:]))
		if reclen < abi.SizeofDirent64Head+1 || reclen > len(rec) {
			return abi.EIO
		}
		rec = rec[:reclen]
		typ := rec[18]
		nameLen := bytes.IndexByte(rec[abi.SizeofDirent64Head:], 0)
		if nameLen < 0 || abi.SizeofDirentHead+nameLen+2 > reclen {
			return abi.EIO
		}
		copy(rec[abi.SizeofDirentHead:], rec[abi.SizeofDirent64Head:abi.SizeofDirent64Head+nameLen])
		rec[abi.SizeofDirentHead+nameLen] = 0
		rec[reclen-1] = typ
		off += reclen
	}
	return nil
}

// Getcwd implements Linux syscall getcwd(2); it returns the length
// including the NUL.
func Getcwd(t *Task, a *Args) (uint64, error) {
	cwd, err := t.guestCwd()
	if err != nil {
		return 0, err
	}
	b := append([]byte(cwd), 0)
	if uint64(len(b)) > a[1] {
		return 0, abi.ERANGE
	}
	if _, err := t.CopyOut(a.Addr(0), b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}

// Chdir implements Linux syscall chdir(2).
func Chdir(t *Task, a *Args) (uint64, error) {
	return t.atPath(abi.AT_FDCWD, a.Addr(0), 0, func(p hostPath) error {
		return unix.Chdir(p.path)
	})
}

// Fchdir implements Linux syscall fchdir(2). A descriptor open on a
// synthetic directory (a memfd, synthFD) enters that directory's marker,
// as chdir by path does (synth_cwd.go).
func Fchdir(t *Task, a *Args) (uint64, error) {
	return t.withFD(a.Int(0), t.fchdirHost)
}
