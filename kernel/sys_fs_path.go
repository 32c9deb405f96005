package kernel

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Path resolution.
//
// Every path syscall reaches the host file system through resolvePath (or
// openPath for the open family) and nothing else. Without --sysroot the
// guest sees the host file system: the guest's cwd is the guestproc's own
// cwd, a guest dirfd is translated to its host descriptor, and AT_FDCWD
// passes through. With --sysroot (Kernel.Root set) every lookup is
// contained by the host kernel with openat2(RESOLVE_IN_ROOT); see
// sys_fs_path_root.go and sysroot.go.
//
// A few magic links are rewritten because the host's would describe the
// guestproc rather than the guest: /proc/self/exe is the guest image, and
// /proc/self/fd/N, /dev/fd/N, /dev/stdin, /dev/stdout and /dev/stderr name
// guest descriptors, which have other numbers on the host.
//
// Synthetic /proc and /dev entries plug in at syntheticPath.

// hostPath is a guest path resolved for a host *at syscall.
type hostPath struct {
	// dirfd is a host directory descriptor or unix.AT_FDCWD.
	dirfd int
	path  string
	// dir holds the reference that keeps dirfd open; nil for AT_FDCWD.
	dir *HostFile
	// fdDir says the path names the guest's /proc/self/fd directory.
	fdDir bool
	// own is a host descriptor the path goes through (/proc/self/fd/own),
	// closed by release; owned says it is set.
	own   int
	owned bool
	// ownName is the name inside own that path names ("" for own
	// itself), for at and object.
	ownName string
	// magic says path is the host's link for a guest descriptor; under a
	// sysroot readlink maps its target to the guest's view.
	magic bool
	// synth is the synthetic /proc or /dev node the path names
	// (synth.go); stat, readlink and getdents answer from it.
	synth *synthNode
}

// release drops the reference on the directory descriptor.
func (p *hostPath) release() {
	if p.dir != nil {
		p.dir.Release()
		p.dir = nil
	}
	if p.owned {
		unix.Close(p.own)
		p.owned = false
	}
}

// at returns the (dirfd, name) pair a host *at call on p should use. A path
// through a descriptor the lookup left open is named relative to that
// descriptor instead of through its /proc/self/fd link, which costs the
// host a procfs walk per call (about 3 µs here, on every stat, readlink
// and access under a sysroot).
func (p *hostPath) at() (int, string) {
	if p.owned && p.ownName != "" && p.path == procSelfFD(p.own)+"/"+p.ownName {
		return p.own, p.ownName
	}
	return p.dirfd, p.path
}

// object returns the descriptor p names the object of (the lookup
// followed to it and left it open), for calls that can act on a
// descriptor (fstat, AT_EMPTY_PATH) rather than through its link.
func (p *hostPath) object() (int, bool) {
	if p.owned && p.ownName == "" && p.path == procSelfFD(p.own) {
		return p.own, true
	}
	return -1, false
}

// procSelfFD is the host's /proc/self/fd link of descriptor fd.
func procSelfFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// pathFlags tune resolvePath.
type pathFlags int

const (
	// pathAllowEmpty accepts "" (AT_EMPTY_PATH): the call then acts on
	// dirfd itself.
	pathAllowEmpty pathFlags = 1 << iota
	// pathNoFollow says the call acts on a final symlink itself (lstat,
	// readlink, unlink...): /dev/stdin, /dev/stdout, /dev/stderr and
	// /proc/self/exe are then the host's own links, which read the same as
	// Linux's, and are not rewritten. /dev/fd/N still is: /dev/fd is the
	// link there, and N names a guest descriptor.
	pathNoFollow
	// pathWrite says the call modifies the file system: a read-only bind
	// refuses it with EROFS.
	pathWrite
)

// copyInPath reads a guest path argument: EFAULT for a bad pointer,
// ENAMETOOLONG at PATH_MAX bytes or more.
func (t *Task) copyInPath(addr abi.Addr) (string, error) {
	return t.CopyInString(addr, abi.PATH_MAX)
}

// resolvePath reads the guest path at addr and resolves it against guest
// dirfd for a host *at syscall. The caller must release the result.
func (t *Task) resolvePath(dirfd int32, addr abi.Addr, flags pathFlags) (hostPath, error) {
	path, err := t.copyInPath(addr)
	if err != nil {
		return hostPath{}, err
	}
	return t.resolvePathString(dirfd, path, flags)
}

// resolvePathString is resolvePath for a path already in host memory.
func (t *Task) resolvePathString(dirfd int32, path string, flags pathFlags) (hostPath, error) {
	if path == "" && flags&pathAllowEmpty == 0 {
		return hostPath{}, abi.ENOENT
	}
	if p, next, ok, err := t.syntheticPath(dirfd, path, flags); ok || err != nil {
		return p, err
	} else if next != "" {
		path, dirfd = next, abi.AT_FDCWD
	}
	if r := t.root(); r != nil {
		return t.resolveRooted(r, dirfd, path, flags)
	}
	if strings.HasPrefix(path, "/") {
		p, err := t.magicPath(path, flags&pathNoFollow != 0)
		return hostPath{dirfd: unix.AT_FDCWD, path: p, fdDir: isFDDirPath(path)}, err
	}
	if dirfd == abi.AT_FDCWD {
		return hostPath{dirfd: unix.AT_FDCWD, path: path}, nil
	}
	dir, err := t.Proc.FDs.Acquire(dirfd)
	if err != nil {
		return hostPath{}, err
	}
	if dir.fdDir != nil && path != "" && path != "." {
		// A name inside the guest's fd directory is a guest number.
		defer dir.Release()
		p, err := t.magicPath("/proc/self/fd/"+path, flags&pathNoFollow != 0)
		return hostPath{dirfd: unix.AT_FDCWD, path: p}, err
	}
	return hostPath{dirfd: dir.FD(), path: path, dir: dir}, nil
}

// syntheticPath is the single hook where synthetic /proc and /dev entries
// plug in (synth.go): it sees every guest path before the host (or the
// sysroot) does, and answers ok=true with a host path of its own for the
// names it serves; next != "" says a synthetic symlink led out of the
// synthetic tree (or into the guest fd directory) and the resolver goes on
// with that absolute path.
func (t *Task) syntheticPath(dirfd int32, path string, flags pathFlags) (p hostPath, next string, ok bool, err error) {
	return t.synthPath(dirfd, path, flags)
}

// root returns the guest's sysroot, nil when the guest sees the host's.
func (t *Task) root() *Root {
	if t.Proc == nil || t.Proc.Kernel == nil {
		return nil
	}
	return t.Proc.Kernel.Root
}

// magicPath rewrites the absolute paths that name guest state (see the
// comment at the top of the file).
func (t *Task) magicPath(path string, noFollow bool) (string, error) {
	if noFollow {
		switch path {
		case "/dev/stdin", "/dev/stdout", "/dev/stderr", "/proc/self/exe", "/proc/thread-self/exe":
			return path, nil
		}
	}
	switch path {
	case "/proc/self/exe", "/proc/thread-self/exe":
		if exe := t.exeHostPath(); exe != "" {
			return exe, nil
		}
		return path, nil
	case "/dev/stdin":
		return t.hostFDPath(0, "")
	case "/dev/stdout":
		return t.hostFDPath(1, "")
	case "/dev/stderr":
		return t.hostFDPath(2, "")
	}
	for _, prefix := range []string{"/proc/self/fd/", "/dev/fd/", "/proc/thread-self/fd/"} {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		num, tail, _ := strings.Cut(rest, "/")
		fd, err := strconv.ParseInt(num, 10, 32)
		if err != nil || num == "" || num[0] == '+' || num[0] == '-' {
			return path, nil // not a descriptor name: the host answers ENOENT
		}
		if tail != "" {
			tail = "/" + tail
		}
		return t.hostFDPath(int32(fd), tail)
	}
	return path, nil
}

// hostFDPath names guest descriptor fd through the host's /proc/self/fd.
// A closed descriptor gives ENOENT, as opening /proc/self/fd/N does.
func (t *Task) hostFDPath(fd int32, tail string) (string, error) {
	host, err := t.Proc.FDs.Get(fd)
	if err != nil {
		return "", abi.ENOENT
	}
	return "/proc/self/fd/" + strconv.Itoa(host) + tail, nil
}

// exeHostPath returns the canonical absolute host path of the guest
// image. Exec should record Process.Exe absolute; a relative one is
// resolved against the current directory, which is only right until the
// guest changes it.
func (t *Task) exeHostPath() string {
	exe := t.Proc.Exe
	if exe == "" {
		return ""
	}
	if !filepath.IsAbs(exe) {
		if abs, err := filepath.Abs(exe); err == nil {
			exe = abs
		}
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return exe
}

// exeLink returns what /proc/self/exe reads as: the canonical absolute path
// of the guest image as the guest sees it (under a sysroot, without the
// sysroot's prefix), as Linux's d_path gives it (glibc's static startup
// asserts that it starts with '/').
func (t *Task) exeLink() string {
	exe := t.exeHostPath()
	if r := t.root(); r != nil && exe != "" {
		if g, ok := r.GuestPath(exe); ok {
			return g
		}
	}
	return exe
}

// isProcSelfExe reports whether a guest path names the guest's own image
// link (readlink answers it from Process.Exe).
func isProcSelfExe(path string) bool {
	return path == "/proc/self/exe" || path == "/proc/thread-self/exe"
}
