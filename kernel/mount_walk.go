package kernel

import (
	"path"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The walk: path resolution when binds exist. openat2 cannot see binds
// (they are not mounts), so the path is walked one component at a time:
// every host call is an openat(2) of a single name with O_PATH|O_NOFOLLOW
// in a directory already known to be inside the root or a bind, symlinks
// are read and spliced into the rest of the path (absolute ones restart at
// the guest's root), `..` goes to the lexical parent of the resolved,
// symlink-free guest path, and a bind's guest path switches to the bind's
// descriptor. Nothing the host resolves by itself can leave the root, and
// the guest sees binds at every depth, through symlinks too.

// maxSymlinks is Linux's MAXSYMLINKS: more links in one lookup is ELOOP.
const maxSymlinks = 40

// walkResult is where a walk ended: fd is an O_PATH descriptor (owned by
// the caller) of the object itself when name is "", else of the directory
// holding name, which does not exist or (for a no-follow walk) is not
// followed. guest is the guest path of fd.
type walkResult struct {
	fd    int
	name  string
	guest string
	// where is the guest path of the object named (for read-only binds).
	where string
}

// walkDir opens the clean, symlink-free guest directory path g.
func (r *Root) walkDir(g string) (int, error) {
	if m, rest := r.mounts.match(g); m != nil {
		if m.fileBind(rest) {
			return m.reopen(unix.OpenHow{Flags: unix.O_PATH})
		}
		return openat2In(m.fd, rest, unix.OpenHow{Flags: unix.O_PATH})
	}
	return openat2In(r.fd, g, unix.OpenHow{Flags: unix.O_PATH})
}

// walk resolves the absolute guest path p; followLast says a final
// symlink is followed.
func (r *Root) walk(p string, followLast bool) (walkResult, error) {
	cur := "/"
	fd, err := r.walkDir(cur)
	if err != nil {
		return walkResult{}, err
	}
	fail := func(err error) (walkResult, error) {
		unix.Close(fd)
		return walkResult{}, err
	}
	rest := p
	links := 0
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			return walkResult{fd: fd, guest: cur, where: cur}, nil
		}
		c, after, slash := strings.Cut(rest, "/")
		rest = after
		more := strings.TrimLeft(rest, "/") != ""
		// A final "name/" must be a directory and follows a symlink.
		dirOnly := slash && !more
		if c == "." {
			continue
		}
		if c == ".." {
			cur = path.Dir(cur)
			nfd, err := r.walkDir(cur)
			if err != nil {
				return fail(err)
			}
			unix.Close(fd)
			fd = nfd
			continue
		}
		next := path.Join(cur, c)
		if m, mrest := r.mounts.match(next); m != nil && mrest == "." {
			// A bind's own path: its descriptor, never the root's
			// directory under it.
			if !m.dir && !more && !followLast && !dirOnly {
				// A file bind not followed: its host name.
				pfd, name, err := m.parent()
				if err != nil {
					return fail(err)
				}
				unix.Close(fd)
				return walkResult{fd: pfd, name: name, guest: cur, where: next}, nil
			}
			nfd, err := r.walkDir(next)
			if err != nil {
				return fail(err)
			}
			unix.Close(fd)
			fd, cur = nfd, next
			continue
		}
		if !more && !followLast && !dirOnly {
			return walkResult{fd: fd, name: c, guest: cur, where: next}, nil
		}
		nfd, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && !more {
			return walkResult{fd: fd, name: c, guest: cur, where: next}, nil
		}
		if err != nil {
			return fail(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(nfd, &st); err != nil {
			unix.Close(nfd)
			return fail(err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, err := readlinkFD(nfd)
			unix.Close(nfd)
			if err != nil {
				return fail(err)
			}
			if links++; links > maxSymlinks {
				return fail(abi.ELOOP)
			}
			if target == "" {
				return fail(abi.ENOENT)
			}
			if slash {
				target += "/"
			}
			rest = target + rest
			if strings.HasPrefix(target, "/") {
				cur = "/"
				nfd, err := r.walkDir(cur)
				if err != nil {
					return fail(err)
				}
				unix.Close(fd)
				fd = nfd
			}
			continue
		case unix.S_IFDIR:
			unix.Close(fd)
			fd, cur = nfd, next
			continue
		}
		if more || dirOnly {
			unix.Close(nfd)
			return fail(abi.ENOTDIR)
		}
		unix.Close(fd)
		return walkResult{fd: nfd, guest: next, where: next}, nil
	}
}

// readlinkFD reads the symlink open as an O_PATH descriptor.
func readlinkFD(fd int) (string, error) {
	buf := make([]byte, abi.PATH_MAX)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// walkMount returns the bind holding the guest path g, nil for the root.
func (r *Root) walkMount(g string) *mount {
	m, _ := r.mounts.match(path.Clean(g))
	return m
}

// walkLookup is lookup for roots with binds: the result of a walk as a
// host path.
func (r *Root) walkLookup(p string, flags pathFlags) (hostPath, error) {
	w, err := r.walk(p, flags&pathNoFollow == 0)
	if err != nil {
		return hostPath{}, err
	}
	if m := r.walkMount(w.where); m != nil && m.ro && flags&pathWrite != 0 {
		unix.Close(w.fd)
		return hostPath{}, abi.EROFS
	}
	if w.name == "" && flags&pathNoFollow != 0 {
		// A no-follow call on a directory reached through its path:
		// act on it as ".", like the openat2 lookup does.
		hp := ownedPath(w.fd, "")
		hp.path += "/."
		return hp, nil
	}
	return ownedPath(w.fd, w.name), nil
}

// walkOpen is open for roots with binds.
func (r *Root) walkOpen(p string, how unix.OpenHow, write bool) (int, error) {
	// O_CREAT|O_EXCL never follows a final symlink (EEXIST, even for a
	// dangling one).
	excl := how.Flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL
	follow := how.Flags&unix.O_NOFOLLOW == 0 && !excl
	w, err := r.walk(p, follow)
	if err != nil {
		return -1, err
	}
	defer unix.Close(w.fd)
	if m := r.walkMount(w.where); m != nil && m.ro && write {
		return -1, abi.EROFS
	}
	how.Flags |= unix.O_CLOEXEC
	if w.name != "" {
		// Missing (create) or not followed: the host must not follow
		// it either.
		how.Flags |= unix.O_NOFOLLOW
		return unix.Openat2(w.fd, w.name, &how)
	}
	if excl {
		return -1, abi.EEXIST
	}
	// Reopen the object itself through its descriptor's link (the one
	// magic link the walk allows: it names what the walk found). The walk
	// returns a final symlink it must not follow as a name (above), so
	// the object is none, and O_NOFOLLOW would stop at the link itself:
	// openat(fd, "..", O_NOFOLLOW|O_DIRECTORY) under a bind (fts climbing
	// in find and rm -r) failed with ENOTDIR.
	how.Resolve = 0
	how.Flags &^= unix.O_NOFOLLOW
	return unix.Openat2(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(w.fd), &how)
}

// hasDotDot reports whether a path has a ".." component.
func hasDotDot(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// walkFast says whether a lookup of p may first try one openat2 without
// symlinks: without "..", and when no symlink is met, the walk would go
// the same way (the deepest bind holding the clean path is the only one
// it crosses).
func walkFast(p string) bool { return !hasDotDot(p) }

// fallBack reports whether a fast openat2's error sends the lookup to the
// walk: it met a symlink, or raced with a rename.
func fallBack(err error) bool {
	return err == unix.ELOOP || err == unix.EXDEV || err == unix.EAGAIN || err == unix.EINTR
}
