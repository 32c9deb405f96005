package kernel

import (
	"os"
	"strings"
	"sync"

	"github.com/elfuse/elfuse/ipc"
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
		return &synthNode{path: p, kind: synthHost, host: dir, writable: true}
	}
	return nil
}

var (
	shmOnce sync.Once
	shmPath string
	shmErr  error
)

// shmDir returns the supervisor's private /dev/shm directory (mode
// 01777), creating it on first use: the first of ipc.ShmDirs that can be
// made, under the host's /dev/shm when it is a tmpfs, else under $TMPDIR.
// The guestproc's parent is the supervisor.
func shmDir() (string, error) {
	shmOnce.Do(func() {
		for _, dir := range ipc.ShmDirs(os.Getppid()) {
			if shmErr = makeShmDir(dir); shmErr == nil {
				shmPath = dir
				return
			}
		}
	})
	return shmPath, shmErr
}

// shmCandidates are ipc.ShmDirs of this guestproc's tree, found once.
var shmCandidates = sync.OnceValue(func() []string { return ipc.ShmDirs(os.Getppid()) })

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
