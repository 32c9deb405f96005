package kernel

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The bind table: host directories (or files) shown at guest paths, like
// `mount --bind`, without privileges. It is consulted before the sysroot:
// the longest guest prefix wins. With binds, a path without symlinks and
// ".." is one openat2 under the deepest bind (or the root) holding it;
// any other path is walked component by component (mount_walk.go), so
// symlinks and ".." cross bind edges as they would cross real mounts.

// BindMount is one --bind HOST[:GUEST][:ro] entry.
type BindMount struct {
	// Host is the host path brought in; Guest where the guest sees it
	// (absolute). ReadOnly binds refuse writes with EROFS.
	Host, Guest string
	ReadOnly    bool
}

// String formats b as --bind takes it.
func (b BindMount) String() string {
	s := b.Host + ":" + b.Guest
	if b.ReadOnly {
		s += ":ro"
	}
	return s
}

// mount is an opened bind.
type mount struct {
	guest string // cleaned absolute guest path
	host  string // canonical host path
	fd    int    // O_PATH descriptor of host
	dir   bool   // host is a directory (else a file bind)
	ro    bool
}

// mountTable holds the binds, longest guest path first. It is immutable
// after newMountTable, so readers need no lock.
type mountTable struct {
	mounts []*mount
}

// newMountTable opens every bind's host path.
func newMountTable(binds []BindMount) (*mountTable, error) {
	mt := &mountTable{}
	for _, b := range binds {
		host, err := filepath.Abs(b.Host)
		if err == nil {
			host, err = filepath.EvalSymlinks(host)
		}
		if err != nil {
			mt.close()
			return nil, fmt.Errorf("bind %s: %w", b, err)
		}
		fd, err := unix.Open(host, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			mt.close()
			return nil, fmt.Errorf("bind %s: open %s: %w", b, host, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			mt.close()
			return nil, fmt.Errorf("bind %s: stat %s: %w", b, host, err)
		}
		mt.mounts = append(mt.mounts, &mount{guest: path.Clean(b.Guest), host: host, fd: fd,
			dir: st.Mode&unix.S_IFMT == unix.S_IFDIR, ro: b.ReadOnly})
	}
	// Longest guest path first; on equal paths the later --bind wins.
	sort.SliceStable(mt.mounts, func(i, j int) bool { return len(mt.mounts[i].guest) > len(mt.mounts[j].guest) })
	for i := 1; i < len(mt.mounts); i++ {
		if mt.mounts[i].guest == mt.mounts[i-1].guest {
			return nil, errors.Join(mt.close(), fmt.Errorf("bind: %s given twice", mt.mounts[i].guest))
		}
	}
	return mt, nil
}

func (mt *mountTable) close() error {
	for _, m := range mt.mounts {
		unix.Close(m.fd)
	}
	mt.mounts = nil
	return nil
}

// match returns the bind holding the cleaned guest path c and the rest of
// c inside it ("." for the bind itself), or nil.
func (mt *mountTable) match(c string) (*mount, string) {
	for _, m := range mt.mounts {
		if c == m.guest {
			return m, "."
		}
		prefix := m.guest
		if prefix != "/" {
			prefix += "/"
		}
		if rest, ok := strings.CutPrefix(c, prefix); ok {
			return m, rest // below a file bind, the host answers ENOTDIR
		}
	}
	return nil, ""
}

// guestOf maps a canonical host path inside a bind back to its guest path.
func (mt *mountTable) guestOf(host string) (string, bool) {
	var best *mount
	for _, m := range mt.mounts {
		if pathWithin(host, m.host) && (best == nil || len(m.host) > len(best.host)) {
			best = m
		}
	}
	if best == nil {
		return "", false
	}
	return path.Join(best.guest, strings.TrimPrefix(host, best.host)), true
}

// pathWithin reports whether host path p is dir or below it.
func pathWithin(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// fileBind reports whether a lookup of rest in m names a file bind itself,
// which openat2 cannot start from (it wants a directory).
func (m *mount) fileBind(rest string) bool {
	return m != nil && !m.dir && rest == "."
}

// reopen opens the file of a file bind with how, through its descriptor's
// link: the object is the bind's, so following that one link is safe.
func (m *mount) reopen(how unix.OpenHow) (int, error) {
	how.Flags |= unix.O_CLOEXEC
	return unix.Openat2(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(m.fd), &how)
}

// parent opens the host directory holding a file bind and returns it with
// the file's name, for calls that act on the name (lstat, unlink...).
func (m *mount) parent() (int, string, error) {
	fd, err := unix.Open(filepath.Dir(m.host), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	return fd, filepath.Base(m.host), err
}
