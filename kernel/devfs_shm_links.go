package kernel

import (
	"path"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Symlinks in /dev/shm. The directory is a host directory of elfuse's
// (devfs.go), and a lookup below it is contained in it, so that nothing
// there reaches other host files. But the symlinks in it are the guest's,
// and Linux follows them from the guest's root: /dev/shm/l -> /etc/passwd
// names the guest's /etc/passwd, ../shm/x climbs through /dev. So the
// lookup refuses symlinks (RESOLVE_NO_SYMLINKS, which costs a path
// without them nothing), and on the first one it meets it reads it and
// resolves what it leads to as a guest path, from the start, as many
// times as Linux's MAXSYMLINKS allows.

// errGuestLink says a lookup below /dev/shm met a symlink of the guest's:
// it goes on at next, a guest path.
type errGuestLink struct{ next string }

func (e errGuestLink) Error() string { return "guest symlink to " + e.next }

// lookupGuestLinks resolves n.rest below /dev/shm's host directory base.
func (t *Task) lookupGuestLinks(n *synthNode, base int, flags pathFlags) (hostPath, error) {
	hp, err := (*Root)(nil).lookupWith(base, n.rest, nil, flags, unix.RESOLVE_NO_SYMLINKS)
	if err != unix.ELOOP {
		return hp, err
	}
	next, err := guestLinkTarget(n, base, false)
	if err != nil {
		return hostPath{}, err
	}
	var p hostPath
	err = t.followGuestLink(func() (err error) {
		p, err = t.resolvePathString(abi.AT_FDCWD, next, flags)
		return err
	})
	return p, err
}

// openGuestLinks opens n.rest below /dev/shm's host directory base with
// how; a symlink on the way is an errGuestLink.
func openGuestLinks(n *synthNode, base int, how unix.OpenHow) (int, error) {
	how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	fd, err := openat2In(base, n.rest, how)
	if err != unix.ELOOP {
		return fd, err
	}
	next, err := guestLinkTarget(n, base, how.Flags&unix.O_NOFOLLOW != 0)
	if err != nil {
		return -1, err
	}
	return -1, errGuestLink{next}
}

// followGuestLink runs a lookup that goes on past a /dev/shm symlink,
// counting it against Linux's MAXSYMLINKS for the whole lookup.
func (t *Task) followGuestLink(lookup func() error) error {
	if t.linkHops >= maxSynthLinks {
		return abi.ELOOP
	}
	t.linkHops++
	defer func() { t.linkHops-- }()
	return lookup()
}

// guestLinkTarget finds the first symlink on n.rest below base and returns
// the guest path the lookup goes on with: its target (from the link's
// directory when relative), then the rest of n.rest. nofollow: a symlink
// that is the last component is ELOOP (O_NOFOLLOW).
func guestLinkTarget(n *synthNode, base int, nofollow bool) (string, error) {
	comps := strings.Split(n.rest, "/")
	for i, c := range comps {
		if c == "" || c == "." {
			continue
		}
		prefix := strings.Join(comps[:i+1], "/")
		fd, err := openat2In(base, prefix, unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_NO_SYMLINKS})
		if err != nil {
			return "", err
		}
		buf := make([]byte, abi.PATH_MAX)
		k, err := unix.Readlinkat(fd, "", buf)
		unix.Close(fd)
		if err != nil {
			continue // not a symlink
		}
		rest := strings.Join(comps[i+1:], "/")
		if nofollow && rest == "" {
			return "", abi.ELOOP
		}
		target := string(buf[:k])
		if !strings.HasPrefix(target, "/") {
			target = path.Join(n.path, strings.Join(comps[:i], "/"), target)
		}
		if rest != "" {
			target = strings.TrimRight(target, "/") + "/" + rest
		}
		return target, nil
	}
	return "", abi.ELOOP
}
