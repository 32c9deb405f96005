package kernel

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Path resolution under --sysroot (see sysroot.go for the containment
// argument). The results are host paths of the form /proc/self/fd/N or
// /proc/self/fd/N/name, where N is an O_PATH descriptor that openat2
// (RESOLVE_IN_ROOT) produced: the host then jumps through the magic link
// to the already resolved object and, for a final name, acts on it
// without following it. Callers that pass NOFOLLOW act on the name, the
// others on the resolved object, so no host-side symlink walk happens
// outside a contained openat2.
//
// Fast paths, taken only when there are no binds: a relative single name
// for a no-follow call is acted on directly at its dirfd; other relative
// paths try openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) at the dirfd and
// fall back to the full lookup from the root when the path climbs with
// `..` (EXDEV) or meets a symlink (ELOOP).

// fdLinkName parses the guest-descriptor magic names /proc/self/fd/N,
// /proc/thread-self/fd/N and /dev/fd/N (optionally followed by /tail).
func fdLinkName(path string) (fd int32, tail string, ok bool) {
	for _, prefix := range []string{"/proc/self/fd/", "/dev/fd/", "/proc/thread-self/fd/"} {
		rest, found := strings.CutPrefix(path, prefix)
		if !found {
			continue
		}
		num, tail, _ := strings.Cut(rest, "/")
		n, err := strconv.ParseInt(num, 10, 32)
		if err != nil || num == "" || num[0] == '+' || num[0] == '-' {
			return 0, "", false
		}
		return int32(n), tail, true
	}
	return 0, "", false
}

// resolveRooted resolves a guest path under root r.
func (t *Task) resolveRooted(r *Root, dirfd int32, path string, flags pathFlags) (hostPath, error) {
	if strings.HasPrefix(path, "/") {
		if isFDDirPath(path) {
			return hostPath{dirfd: unix.AT_FDCWD, path: path, fdDir: true}, nil
		}
		if fd, tail, ok := fdLinkName(path); ok && tail != "" {
			// Below a descriptor: a lookup relative to it, contained like
			// any other (the host's magic link would walk outside).
			return t.resolvePathString(fd, tail, flags)
		}
		switch path {
		case "/proc/self/exe", "/proc/thread-self/exe", "/dev/stdin", "/dev/stdout", "/dev/stderr":
			p, err := t.magicPath(path, flags&pathNoFollow != 0)
			return hostPath{dirfd: unix.AT_FDCWD, path: p}, err
		}
		if _, _, ok := fdLinkName(path); ok {
			p, err := t.magicPath(path, flags&pathNoFollow != 0)
			return hostPath{dirfd: unix.AT_FDCWD, path: p, magic: true}, err
		}
		return r.lookupGuest(path, flags)
	}
	fast := len(r.mounts.mounts) == 0
	if path == "" && dirfd == abi.AT_FDCWD {
		return hostPath{dirfd: unix.AT_FDCWD}, nil // AT_EMPTY_PATH: the cwd
	}
	if dirfd == abi.AT_FDCWD {
		if fast {
			if p, ok, err := fastLookup(unix.AT_FDCWD, path, flags); ok {
				return p, err
			}
		}
		abs, err := r.absolute(path)
		if tooLong(err) {
			return r.deepCwdLookup("", path, flags) // sys_fs_path_deep.go
		}
		if err != nil {
			return hostPath{}, err
		}
		if len(abs) >= abi.PATH_MAX {
			return r.deepCwdLookup(strings.TrimSuffix(abs[:len(abs)-len(path)], "/"), path, flags)
		}
		return r.lookupGuest(abs, flags)
	}
	dir, err := t.Proc.FDs.Acquire(dirfd)
	if err != nil {
		return hostPath{}, err
	}
	if path == "" {
		return hostPath{dirfd: dir.FD(), path: path, dir: dir}, nil
	}
	if dir.fdDir != nil && path != "." {
		// A name inside the guest's fd directory is a guest number.
		dir.Release()
		return t.resolvePathString(abi.AT_FDCWD, "/proc/self/fd/"+path, flags)
	}
	if fast {
		if p, ok, err := fastLookup(dir.FD(), path, flags); ok {
			if p.dirfd == dir.FD() {
				p.dir = dir
			} else {
				dir.Release()
			}
			return p, err
		}
	}
	defer dir.Release()
	if g, ok := r.guestOfFD(dir.FD()); ok {
		if len(g)+1+len(path) >= abi.PATH_MAX {
			return r.deepLookup(dir.FD(), g, path, flags) // sys_fs_path_deep.go
		}
		return r.lookupGuest(joinGuest(g, path), flags)
	}
	if r.unnameable(dir.FD()) {
		return r.deepLookup(dir.FD(), "", path, flags)
	}
	// A directory the root cannot name (opened before the root, or
	// deleted): the lookup is contained in the directory itself.
	return r.lookup(dir.FD(), path, nil, flags)
}

// lookupGuest resolves an absolute guest path: one contained openat2
// without binds; with binds a symlink-free openat2 first, else the walk
// (mount_walk.go).
func (r *Root) lookupGuest(p string, flags pathFlags) (hostPath, error) {
	if len(r.mounts.mounts) == 0 {
		return r.lookup(r.fd, p, nil, flags)
	}
	if walkFast(p) {
		base, rest, m := r.locate(p)
		hp, err := r.lookupWith(base, rest, m, flags, unix.RESOLVE_NO_SYMLINKS)
		if !fallBack(err) {
			return hp, err
		}
	}
	return r.walkLookup(p, flags)
}

// fastLookup is the bind-less shortcut for a relative path at host dirfd;
// ok=false sends the caller to the full lookup.
func fastLookup(dirfd int, path string, flags pathFlags) (hostPath, bool, error) {
	if flags&pathNoFollow != 0 {
		if !strings.Contains(path, "/") && path != "." && path != ".." {
			return hostPath{dirfd: dirfd, path: path}, true, nil
		}
		return hostPath{}, false, nil
	}
	fd, err := unix.Openat2(dirfd, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	switch err {
	case nil:
		return ownedPath(fd, ""), true, nil
	case unix.EXDEV, unix.ELOOP, unix.EAGAIN, unix.EINTR:
		return hostPath{}, false, nil
	}
	return hostPath{}, true, err
}

// ownedPath names the object open as fd (or name inside it) through
// /proc/self/fd; the hostPath owns fd.
func ownedPath(fd int, name string) hostPath {
	p := procSelfFD(fd)
	if name != "" {
		p += "/" + name
	}
	return hostPath{dirfd: unix.AT_FDCWD, path: p, own: fd, owned: true, ownName: name}
}

// lookup resolves rest under base (contained in it): the object itself
// for a following call, its parent and final name for a no-follow one.
func (r *Root) lookup(base int, rest string, m *mount, flags pathFlags) (hostPath, error) {
	return r.lookupWith(base, rest, m, flags, 0)
}

// lookupWith is lookup with extra RESOLVE_ flags on every openat2.
func (r *Root) lookupWith(base int, rest string, m *mount, flags pathFlags, resolve uint64) (hostPath, error) {
	if m != nil && m.ro && flags&pathWrite != 0 {
		return hostPath{}, abi.EROFS
	}
	if m.fileBind(rest) {
		if flags&pathNoFollow != 0 {
			pfd, name, err := m.parent()
			if err != nil {
				return hostPath{}, err
			}
			return ownedPath(pfd, name), nil
		}
		fd, err := m.reopen(unix.OpenHow{Flags: unix.O_PATH})
		if err != nil {
			return hostPath{}, err
		}
		return ownedPath(fd, ""), nil
	}
	follow := func() (hostPath, error) {
		fd, err := openat2In(base, rest, unix.OpenHow{Flags: unix.O_PATH, Resolve: resolve})
		if err != nil {
			return hostPath{}, err
		}
		return ownedPath(fd, ""), nil
	}
	if flags&pathNoFollow == 0 {
		return follow()
	}
	trimmed := strings.TrimRight(rest, "/")
	trailing := trimmed != rest
	if trimmed == "" {
		trimmed = "/"
	}
	dir, name := "/", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, name = trimmed[:i], trimmed[i+1:]
		if dir == "" {
			dir = "/"
		}
	} else {
		dir = "."
	}
	if name == "" || name == "." || name == ".." {
		// The root, a bind's own directory or a dot name: the directory
		// itself, named "." so that no-follow calls keep Linux's answers
		// (rmdir "." is EINVAL, mkdir is EEXIST).
		p, err := follow()
		if err == nil {
			p.path += "/."
		}
		return p, err
	}
	pfd, err := openat2In(base, dir, unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY, Resolve: resolve})
	if err != nil {
		return hostPath{}, err
	}
	if trailing {
		// "name/" follows a final symlink, and names only directories.
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFLNK:
				unix.Close(pfd)
				p, err := follow()
				if err == nil {
					p.path += "/."
				}
				return p, err
			case unix.S_IFDIR:
			default:
				unix.Close(pfd)
				return hostPath{}, abi.ENOTDIR
			}
		}
	}
	return ownedPath(pfd, name), nil
}

// openPath is the open family's resolution: it opens the guest path at
// dirfd with how (guest flags; O_CLOEXEC is added on the host) and
// returns the host descriptor. fdDir says it is the guest's
// /proc/self/fd directory. strict says how comes from openat2(2), whose
// checks (unknown flags, a mode without O_CREAT) the host must apply;
// openat(2) callers pass openatHow's sanitised flags.
func (t *Task) openPath(dirfd int32, pathAddr abi.Addr, how unix.OpenHow, strict bool) (hostfd int, fdDir bool, err error) {
	path, err := t.copyInPath(pathAddr)
	if err != nil {
		return -1, false, err
	}
	return t.openPathString(dirfd, path, how, strict)
}

// openPathString is openPath for a path already in host memory.
func (t *Task) openPathString(dirfd int32, path string, how unix.OpenHow, strict bool) (hostfd int, fdDir bool, err error) {
	how.Flags |= unix.O_CLOEXEC
	t.opened = openedPut{} // an earlier open's, never installed (procfs_comm.go)
	if fd, next, ok, err := t.synthOpen(dirfd, path, how); ok || err != nil {
		var link errGuestLink
		if errors.As(err, &link) { // devfs_shm_links.go
			err = t.followGuestLink(func() (err error) {
				fd, fdDir, err = t.openPathString(abi.AT_FDCWD, link.next, how, strict)
				return err
			})
			return fd, fdDir, err
		}
		return fd, false, err
	} else if next != "" {
		path, dirfd = next, abi.AT_FDCWD
	}
	r := t.root()
	if r == nil || isFDDirPath(path) || !t.openNeedsRoot(path) {
		return t.openResolved(dirfd, path, how, strict)
	}
	if path == "" {
		return -1, false, abi.ENOENT
	}
	if fd, tail, ok := fdLinkName(path); ok && tail != "" {
		// Below a descriptor: relative to it, contained (see resolveRooted).
		return t.openPathString(fd, tail, how, strict)
	}
	write := how.Flags&unix.O_ACCMODE != unix.O_RDONLY || how.Flags&(unix.O_CREAT|unix.O_TRUNC) != 0 ||
		how.Flags&unix.O_TMPFILE == unix.O_TMPFILE
	guestResolve := how.Resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0
	if !strings.HasPrefix(path, "/") || guestResolve {
		var base int
		var dir *HostFile
		if dirfd == abi.AT_FDCWD {
			base = unix.AT_FDCWD
		} else {
			if dir, err = t.Proc.FDs.Acquire(dirfd); err != nil {
				return -1, false, err
			}
			defer dir.Release()
			if dir.fdDir != nil {
				return t.openResolved(dirfd, path, how, strict)
			}
			base = dir.FD()
		}
		if guestResolve {
			// The guest contains itself in a directory that is already
			// inside the root: its own flags suffice.
			fd, err := unix.Openat2(base, path, &how)
			return fd, false, err
		}
		if len(r.mounts.mounts) == 0 {
			h := how
			h.Resolve |= unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
			fd, err := unix.Openat2(base, path, &h)
			switch err {
			case nil:
				return fd, false, nil
			case unix.EXDEV, unix.ELOOP, unix.EAGAIN, unix.EINTR:
			default:
				return -1, false, err
			}
		}
		var g string
		var ok bool
		if dir == nil {
			g, err = r.absolute(path)
			ok = err == nil
			if tooLong(err) {
				fd, err := r.deepOpen(base, "", path, how, write) // sys_fs_path_deep.go
				return fd, false, err
			}
		} else if g, ok = r.guestOfFD(base); ok {
			g = joinGuest(g, path)
		} else if r.unnameable(base) {
			fd, err := r.deepOpen(base, "", path, how, write)
			return fd, false, err
		}
		if !ok {
			fd, err := openat2In(base, path, how)
			return fd, false, err
		}
		if len(g) >= abi.PATH_MAX {
			fd, err := r.deepOpen(base, strings.TrimSuffix(g[:len(g)-len(path)], "/"), path, how, write)
			return fd, false, err
		}
		path = g
	}
	fd, err := r.open(path, how, write)
	return fd, false, err
}

// openNeedsRoot reports whether a path must be looked up in the root
// rather than through the guest-descriptor magic names.
func (t *Task) openNeedsRoot(path string) bool {
	if _, tail, ok := fdLinkName(path); ok && tail == "" {
		return false
	}
	switch path {
	case "/proc/self/exe", "/proc/thread-self/exe", "/dev/stdin", "/dev/stdout", "/dev/stderr":
		return false
	}
	return true
}

// openResolved opens through resolvePathString (host mode and the magic
// names).
func (t *Task) openResolved(dirfd int32, path string, how unix.OpenHow, strict bool) (int, bool, error) {
	p, err := t.resolvePathString(dirfd, path, 0)
	if err != nil {
		return -1, false, err
	}
	defer p.release()
	var fd int
	if !strict {
		fd, err = unix.Openat(p.dirfd, p.path, int(how.Flags), uint32(how.Mode))
	} else {
		fd, err = unix.Openat2(p.dirfd, p.path, &how)
	}
	return fd, p.fdDir, err
}

// openFlagsKnown are the open flags openat2(2) accepts; openat(2) ignores
// the others (and a mode without O_CREAT or O_TMPFILE), so openatHow
// drops them: under a sysroot the lookup is an openat2.
const openFlagsKnown = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH |
	unix.O_TMPFILE

// openatHow turns openat(2)'s flags and mode into an open_how.
func openatHow(flags int, mode uint32) unix.OpenHow {
	how := unix.OpenHow{Flags: uint64(flags) & openFlagsKnown}
	if how.Flags&unix.O_CREAT != 0 || how.Flags&unix.O_TMPFILE == unix.O_TMPFILE {
		how.Mode = uint64(mode)
	}
	return how
}

// readMagicLink answers readlink of a guest-descriptor link under a
// sysroot: the host's target, shown at its guest path when the root or a
// bind holds it (pipes, sockets and files outside stay as the host says).
func (t *Task) readMagicLink(r *Root, p hostPath, bufAddr abi.Addr, size int) (uint64, error) {
	buf := make([]byte, abi.PATH_MAX)
	n, err := unix.Readlinkat(p.dirfd, p.path, buf)
	if err != nil {
		return 0, err
	}
	target := string(buf[:n])
	if g, ok := synthOfMarker(target); ok {
		target = g
	} else if g, ok := r.GuestPath(target); ok {
		target = g
	}
	b := []byte(target)[:min(len(target), size)]
	if _, err := t.CopyOut(bufAddr, b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}

// guestCwd is the working directory as the guest sees it (getcwd).
func (t *Task) guestCwd() (string, error) {
	if cwd, ok := synthCwd(); ok {
		return cwd, nil
	}
	if r := t.root(); r != nil {
		return r.Cwd()
	}
	return unix.Getwd()
}

// UnixSocketPath resolves the sun_path of an AF_UNIX bind (create=true)
// or connect for the host's bind(2)/connect(2): under a sysroot it returns
// a /proc/self/fd path to use instead (bind: the contained parent
// directory plus the name, never following it; connect: the contained
// socket itself), else the path unchanged. The caller must call release
// after the host call. Errors are errnos for the guest (ENAMETOOLONG when
// the host path does not fit sun_path, EROFS in a read-only bind).
func (t *Task) UnixSocketPath(path string, create bool) (host string, release func(), err error) {
	if t.root() == nil || path == "" {
		return path, func() {}, nil
	}
	flags := pathFlags(0)
	if create {
		flags = pathNoFollow | pathWrite
	}
	p, err := t.resolvePathString(abi.AT_FDCWD, path, flags)
	if err != nil {
		return "", nil, err
	}
	hp := p.path
	if p.dirfd != unix.AT_FDCWD {
		hp = "/proc/self/fd/" + strconv.Itoa(p.dirfd) + "/" + p.path
	}
	if len(hp) >= unixPathMax {
		p.release()
		return "", nil, abi.ENAMETOOLONG
	}
	return hp, p.release, nil
}

// unixPathMax is the size of sockaddr_un's sun_path (UNIX_PATH_MAX).
const unixPathMax = 108

// Opener returns how exec opens programs and interpreters for this task:
// through the same resolution as open(2) (the sysroot, the guest's
// descriptor names), relative paths from the guest's working directory.
func (t *Task) Opener() Opener {
	return func(path string) (*os.File, error) {
		fd, _, err := t.openPathString(abi.AT_FDCWD, path, unix.OpenHow{Flags: unix.O_RDONLY}, false)
		if e, ok := err.(abi.Errno); ok {
			err = unix.Errno(e) // what OpenExecutableWith expects of an opener
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
