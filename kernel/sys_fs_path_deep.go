package kernel

// Deep working directories under binds. Without binds a relative path is
// looked up beneath the working directory on the host (fastLookup); with
// binds the guest path of the working directory is joined to it and
// resolved from the root, which fails with ENAMETOOLONG once the join
// reaches PATH_MAX, though Linux limits only the path the call names:
// `mkdir -p` of a tree more than 4 KiB deep failed in a bound directory.
// Such a lookup now goes beneath the working directory too, when that is
// what the root would find: no bind's mount point lies below it, and a
// write inside a read-only bind still fails with EROFS. Leading `..`
// components climb a level at a time (getcwd's walk, `cd ../..`); a `..`
// further on or a symlink is not followed there (RESOLVE_BENEATH): such a
// path keeps the ENAMETOOLONG.

import (
	"errors"
	"os"
	pathpkg "path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// tooLong reports whether err says the working directory's guest path
// cannot be named (getcwd past PATH_MAX).
func tooLong(err error) bool {
	return errors.Is(err, unix.ERANGE) || errors.Is(err, unix.ENAMETOOLONG) || errors.Is(err, abi.ENAMETOOLONG)
}

// deepCwdLookup resolves relative path from the working directory, whose
// guest path cwd ("" when it cannot be named) joined to path is too long.
func (r *Root) deepCwdLookup(cwd, path string, flags pathFlags) (hostPath, error) {
	return r.deepLookup(unix.AT_FDCWD, cwd, path, flags)
}

// deepBase prepares a lookup of relative path from directory base
// (AT_FDCWD: the working directory) of guest path dir ("" when it cannot
// be named): a descriptor (the caller's to close) of where the leading
// ".." components lead, the rest of the path, and the bind holding that
// directory (nil: the root's own tree). ENAMETOOLONG when a bind's mount
// point lies below dir, which only the root's walk would see; errShort,
// with the guest path in place of the rest, when the climb led to a
// directory short enough for the root's own lookup.
func (r *Root) deepBase(base int, dir, path string) (int, string, *mount, error) {
	if dir != "" {
		for _, b := range r.mounts.mounts {
			if dir == "/" || strings.HasPrefix(b.guest, dir+"/") {
				return -1, "", nil, abi.ENAMETOOLONG
			}
		}
	}
	fd, rest, err := r.climb(base, path)
	if err != nil {
		return -1, "", nil, err
	}
	if rest != path {
		// Climbed where binds below may matter again: a directory the
		// root can name takes the root's own lookup (errShort).
		if g, ok := r.guestOfFD(fd); ok && len(g)+1+len(rest) < abi.PATH_MAX {
			unix.Close(fd)
			return -1, joinGuest(g, rest), nil, errShort
		}
	}
	var m *mount
	if dir != "" && rest == path {
		m, _ = r.mounts.match(dir)
	} else {
		// Unnameable (deeper than PATH_MAX, so below every bind's mount
		// point), or climbed: the bind holding it, by identity.
		m = r.mountHolding(fd)
	}
	return fd, rest, m, nil
}

// errShort is deepBase's answer for a path that climbed back to where the
// root's own lookup can take it: the rest is then that guest path.
var errShort = errors.New("short again")

// beneath are the resolve flags of a lookup below a deep directory.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// deepLookup is deepCwdLookup from directory base of guest path dir.
func (r *Root) deepLookup(base int, dir, path string, flags pathFlags) (hostPath, error) {
	fd, rest, m, err := r.deepBase(base, dir, path)
	if err == errShort {
		return r.lookupGuest(rest, flags)
	}
	if err != nil {
		return hostPath{}, err
	}
	if m != nil && m.ro && flags&pathWrite != 0 {
		unix.Close(fd)
		return hostPath{}, abi.EROFS
	}
	if rest == "" || rest == "." || rest == "./" {
		return ownedPath(fd, "."), nil // "." in it: no magic link to stop at
	}
	p, ok, err := fastLookup(fd, rest, flags)
	if !ok {
		unix.Close(fd)
		return hostPath{}, abi.ENAMETOOLONG
	}
	if p.owned || err != nil {
		unix.Close(fd) // p holds a descriptor of its own
		return p, err
	}
	return ownedPath(fd, rest), nil // a no-follow name in fd
}

// deepOpen is open(2) of relative path from directory base of guest path
// dir (see deepLookup).
func (r *Root) deepOpen(base int, dir, path string, how unix.OpenHow, write bool) (int, error) {
	fd, rest, m, err := r.deepBase(base, dir, path)
	if err == errShort {
		return r.open(rest, how, write)
	}
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	if m != nil && m.ro && write {
		return -1, abi.EROFS
	}
	if rest == "" {
		rest = "."
	}
	h := how
	h.Resolve |= beneath
	nfd, err := unix.Openat2(fd, rest, &h)
	switch err {
	case unix.EXDEV, unix.ELOOP:
		return -1, abi.ENAMETOOLONG
	}
	return nfd, err
}

// climb resolves the leading ".." components of path from directory
// dirfd: a new O_PATH descriptor of where they lead and the rest of the
// path. ".." of the root is the root; ".." of a bind's top is the
// directory holding its mount point (looked up in the guest's view).
func (r *Root) climb(dirfd int, path string) (int, string, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	rest := path
	for rest == ".." || strings.HasPrefix(rest, "../") {
		rest = strings.TrimLeft(strings.TrimPrefix(rest, ".."), "/")
		up, err := r.parentDir(fd)
		unix.Close(fd)
		if err != nil {
			return -1, "", err
		}
		fd = up
	}
	return fd, rest, nil
}

// parentDir opens the guest's ".." of directory fd.
func (r *Root) parentDir(fd int) (int, error) {
	var st, rst unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, err
	}
	if unix.Fstat(r.fd, &rst) == nil && st.Dev == rst.Dev && st.Ino == rst.Ino {
		return unix.Openat(fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	for _, m := range r.mounts.mounts {
		var mst unix.Stat_t
		if m.dir && unix.Fstat(m.fd, &mst) == nil && st.Dev == mst.Dev && st.Ino == mst.Ino {
			hp, err := r.lookupGuest(pathpkg.Dir(m.guest), 0)
			if err != nil {
				return -1, err
			}
			defer hp.release()
			d, name := hp.at()
			return unix.Openat(d, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
	}
	return unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// mountHolding returns the bind whose host directory holds directory dirfd
// (nil: none, or the sysroot's own tree), walking up its host ancestors.
func (r *Root) mountHolding(dirfd int) *mount {
	type key struct{ dev, ino uint64 }
	roots := map[key]*mount{}
	for _, m := range r.mounts.mounts {
		var st unix.Stat_t
		if m.dir && unix.Fstat(m.fd, &st) == nil {
			roots[key{st.Dev, st.Ino}] = m
		}
	}
	var st unix.Stat_t
	if unix.Fstat(r.fd, &st) != nil {
		return nil
	}
	sysroot := key{st.Dev, st.Ino}
	fd, err := unix.Openat(dirfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	for depth := 0; depth < abi.PATH_MAX; depth++ {
		if unix.Fstat(fd, &st) != nil {
			break
		}
		k := key{st.Dev, st.Ino}
		if m := roots[k]; m != nil {
			unix.Close(fd)
			return m
		}
		up, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		var ust unix.Stat_t
		same := unix.Fstat(up, &ust) == nil && ust.Dev == st.Dev && ust.Ino == st.Ino
		unix.Close(fd)
		fd = up
		if k == sysroot || same {
			break // the sysroot's tree, or the host's top
		}
	}
	unix.Close(fd)
	return nil
}

// unnameable reports whether directory fd is nameless for being too deep
// (its host path past PATH_MAX), rather than deleted or outside the root.
func (r *Root) unnameable(fd int) bool {
	_, err := os.Readlink(procSelfFD(fd))
	return tooLong(err)
}
