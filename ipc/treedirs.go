package ipc

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The tree's private host directories are named from the supervisor's pid:
// the guestprocs make them on first use, the supervisor removes them all
// when the tree ends (supervisor/sysroot.go).

// ShmDirs are the candidates for the host directory behind the guest's
// /dev/shm in the tree of supervisor pid, in the order they are tried: one
// under the host's /dev/shm when that is a tmpfs this process may write,
// so that the guest's /dev/shm is memory and a file system of its own
// (statfs says tmpfs, its device is not the root's, df and find -xdev see
// a mount point there), as on Linux; then one under $TMPDIR.
func ShmDirs(supervisor int) []string {
	name := "elfuse-shm-" + strconv.Itoa(supervisor)
	var dirs []string
	var fs unix.Statfs_t
	if unix.Statfs("/dev/shm", &fs) == nil && fs.Type == unix.TMPFS_MAGIC &&
		unix.Access("/dev/shm", unix.W_OK|unix.X_OK) == nil {
		dirs = append(dirs, filepath.Join("/dev/shm", name))
	}
	return append(dirs, filepath.Join(os.TempDir(), name))
}
