package kernel

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The synthetic /dev tree (see synth.go): the character devices a program
// expects pass through to the host's, the descriptor names are symlinks
// into /proc/self/fd, and /dev/shm is a private host directory per
// supervisor (inside the host's /dev/shm when that is a tmpfs), so POSIX
// shared memory works without touching the host's other files there and
// is shared by the processes of one elfuse tree.

// devHostNodes are the /dev names that are the host's own.
var devHostNodes = map[string]uint8{
	"null": abi.DT_CHR, "zero": abi.DT_CHR, "full": abi.DT_CHR, "random": abi.DT_CHR,
	"urandom": abi.DT_CHR, "tty": abi.DT_CHR, "ptmx": abi.DT_CHR, "pts": abi.DT_DIR,
}

// devLinks are /dev's symlinks.
var devLinks = map[string]string{
	"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
	"stderr": "/proc/self/fd/2",
}

// devList lists /dev.
func (t *Task) devList(n *synthNode) []synthDirent {
	if n.path != "/dev" {
		return nil
	}
	var ents []synthDirent
	for name, typ := range devHostNodes {
		ents = append(ents, synthDirent{name, typ})
	}
	for name := range devLinks {
		ents = append(ents, synthDirent{name, abi.DT_LNK})
	}
	return append(ents, synthDirent{"shm", abi.DT_DIR})
}

// devMake builds the node for /dev/name.
func (t *Task) devMake(n *synthNode, name string) *synthNode {
	p := n.path + "/" + name
	if _, ok := devHostNodes[name]; ok {
		return &synthNode{path: p, kind: synthHost, host: "/dev/" + name, writable: true}
	}
	if target, ok := devLinks[name]; ok {
		return &synthNode{path: p, kind: synthLink, perm: 0o777, target: target}
	}
	if name == "shm" {
		// The directory is elfuse's, made with its credentials; its
		// mode lets every guest in, as /dev/shm's does.
		var dir string
		err := t.asHost(func() (err error) { dir, err = shmDir(); return err })
		if err != nil {
			return nil
		}
		// The host directory may become the cwd: relative lookups
		// and getcwd then map it back to /dev/shm (synthCwd).
		synthCwdMarkers.Store(true)
		return &synthNode{path: p, kind: synthHost, host: dir, writable: true, guestLinks: true}
	}
	return nil
}

var (
	shmOnce sync.Once
	shmPath string
	shmErr  error
)

// shmDir returns the supervisor's private /dev/shm directory (mode
// 01777), creating it on first use: the first of shmDirs that can be
// made, under the host's /dev/shm when it is a tmpfs, else under $TMPDIR.
// The guestproc's parent is the supervisor.
func shmDir() (string, error) {
	shmOnce.Do(func() {
		for _, dir := range shmCandidates() {
			if shmErr = makeShmDir(dir); shmErr == nil {
				shmPath = dir
				return
			}
		}
	})
	return shmPath, shmErr
}

// shmCandidates are shmDirs of this guestproc's tree, found once.
var shmCandidates = sync.OnceValue(func() []string { return shmDirs(os.Getppid()) })

// shmDirs are the candidates for the host directory behind the guest's
// /dev/shm in the tree of supervisor pid, in the order they are tried: one
// under the host's /dev/shm when that is a tmpfs this process may write,
// so that the guest's /dev/shm is memory and a file system of its own
// (statfs says tmpfs, its device is not the root's, df and find -xdev see
// a mount point there), as on Linux; then one under $TMPDIR. The
// supervisor removes both at the tree's end (supervisor/sysroot.go
// treeDirs, which must name them alike).
func shmDirs(supervisor int) []string {
	name := "elfuse-shm-" + strconv.Itoa(supervisor)
	var dirs []string
	var fs unix.Statfs_t
	if unix.Statfs("/dev/shm", &fs) == nil && fs.Type == unix.TMPFS_MAGIC &&
		unix.Access("/dev/shm", unix.W_OK|unix.X_OK) == nil {
		dirs = append(dirs, filepath.Join("/dev/shm", name))
	}
	return append(dirs, filepath.Join(os.TempDir(), name))
}

// shmGuestPath maps host path wd inside the tree's /dev/shm directory to
// the guest's path there ("/dev/shm/..."); ok is false elsewhere.
func shmGuestPath(wd string) (string, bool) {
	for _, dir := range shmCandidates() {
		if rest, ok := strings.CutPrefix(wd, dir); ok && (rest == "" || rest[0] == '/') {
			return "/dev/shm" + rest, true
		}
	}
	return "", false
}

// makeShmDir makes dir, or takes it when it is already there as a
// directory of this process's owner (another guestproc of the tree made
// it); a directory someone else put there first is refused.
func makeShmDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return abi.ENOTDIR
	}
	return os.Chmod(dir, 0o777|os.ModeSticky)
}
