package kernel

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// A synthetic directory as the working directory (`cd /proc/self`) or as
// a dirfd.
//
// The guest's cwd is the guestproc's host cwd, which fork passes on (as a
// descriptor) and exec keeps. A synthetic directory has no host
// directory, so it is given one: a marker directory per synthetic path
// under a private host directory of the tree, synthCwdRoot/<canonical
// guest path> ($TMPDIR/elfuse-cwd-<supervisor pid>/proc/12/task, modes
// 0711 and 0755, removed by the supervisor at exit). chdir into a synthetic
// directory enters its marker; getcwd, and every relative path looked up
// from AT_FDCWD, map a cwd below the marker root back to the synthetic
// path, so the walk goes on in the synthetic tree. The markers hold
// nothing and no guest path reaches them.

// synthCwdTree is set in a guestproc, whose parent is the supervisor that
// removes the markers at exit (EnableSynthCwd). Elsewhere (unit tests) a
// synthetic directory cannot become the cwd: chdir into it fails with
// ENOTDIR, as before markers, and nothing is left on the host.
var synthCwdTree atomic.Bool

// EnableSynthCwd lets synthetic directories become the cwd: the
// process's parent is a supervisor that removes the markers it leaves.
func EnableSynthCwd() { synthCwdTree.Store(true) }

// synthCwdMarkers is set once a marker may be the cwd: this process
// handed one out, or started in one (a fork child of a process in
// /proc). Until then relative lookups skip the getcwd check.
var synthCwdMarkers atomic.Bool

// synthCwdChecked says synthCwdMarkers was initialised from the cwd the
// process started in (ResetSynthCwd re-arms it for a recycled guestproc).
var synthCwdChecked atomic.Bool

// ResetSynthCwd forgets what the previous guest process of a recycled
// guestproc knew about markers: the next one may start in a marker (a fork
// child of a process in /proc) or not.
func ResetSynthCwd() {
	synthCwdMarkers.Store(false)
	synthCwdChecked.Store(false)
}

// synthCwdRoot returns the tree's marker root (the guestproc's parent is
// the supervisor).
func synthCwdRoot() string {
	return filepath.Join(os.TempDir(), "elfuse-cwd-"+strconv.Itoa(os.Getppid()))
}

// synthCwdMarker returns the marker directory of the synthetic directory
// at canonical path p, creating it. The markers are elfuse's, made with
// its credentials (creds_thread.go); a guest that changed its ids walks
// them with the guest's, so the root is 0711 and the markers 0755,
// whatever the umask.
func (t *Task) synthCwdMarker(p string) (string, error) {
	if !synthCwdTree.Load() {
		return "", errNoMarkers
	}
	root := synthCwdRoot()
	var st unix.Stat_t
	err := unix.Lstat(root, &st)
	if err == unix.ENOENT {
		err = t.asHost(func() error { return mkdirMarker(root, 0o711) })
		if err == nil {
			err = unix.Lstat(root, &st)
		}
	}
	if err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() {
		return "", unix.EACCES // not ours
	}
	dir := filepath.Join(root, filepath.FromSlash(path.Clean(p)))
	if unix.Stat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		err := t.asHost(func() error {
			for i := len(root) + 1; i <= len(dir); i++ {
				if i == len(dir) || dir[i] == '/' {
					if err := mkdirMarker(dir[:i], 0o755); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	synthCwdMarkers.Store(true)
	return dir, nil
}

// mkdirMarker makes directory name with mode perm, or leaves the one
// there.
func mkdirMarker(name string, perm uint32) error {
	err := unix.Mkdir(name, perm)
	if err == unix.EEXIST {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.Chmod(name, perm) // beyond the umask
}

// errNoMarkers says synthetic directories have no host stand-ins here.
var errNoMarkers = errors.New("no synthetic cwd markers")

// synthCwd returns the synthetic directory the process's cwd is, if it
// is one.
func synthCwd() (string, bool) {
	if !synthCwdChecked.Swap(true) {
		if wd, err := unix.Getwd(); err == nil {
			if _, inShm := shmGuestPath(wd); inShm || strings.HasPrefix(wd, synthCwdRoot()+"/") {
				synthCwdMarkers.Store(true)
			}
		}
	}
	if !synthCwdMarkers.Load() {
		return "", false
	}
	wd, err := unix.Getwd()
	if err != nil {
		return "", false
	}
	if p, ok := shmGuestPath(wd); ok {
		return p, true
	}
	p, ok := strings.CutPrefix(wd, synthCwdRoot())
	if !ok || !isSynthRoot(p) {
		return "", false
	}
	return p, true
}

// synthOfMarker maps a host path inside the marker tree (what the host
// says a descriptor opened on a synthetic directory refers to) back to
// that synthetic directory's path.
func synthOfMarker(host string) (string, bool) {
	p, ok := strings.CutPrefix(host, synthCwdRoot())
	if !ok || !isSynthRoot(p) {
		return "", false
	}
	return p, true
}

// fchdirHost changes the cwd to host descriptor fd, or to the marker of
// the synthetic directory fd holds. Without markers (unit tests) that
// stays ENOTDIR, as for chdir.
func (t *Task) fchdirHost(fd int) error {
	p, dir, ok := synthFD(fd)
	if !ok {
		return unix.Fchdir(fd)
	}
	if !dir {
		return abi.ENOTDIR
	}
	marker, err := t.synthCwdMarker(p)
	if errors.Is(err, errNoMarkers) {
		return abi.ENOTDIR
	}
	if err != nil {
		return err
	}
	return unix.Chdir(marker)
}
