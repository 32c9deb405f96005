package supervisor

// The tree's private host directories: the guest's /dev/shm and the
// stand-ins of synthetic directories used as cwd, named after the
// supervisor's host pid (kernel/devfs.go shmDirs, kernel/synth_cwd.go).
//
// A supervisor removes its own when its tree ends. One killed by SIGKILL
// cannot: its directories stayed behind with whatever the guest left in
// them (POSIX shared memory is tmpfs memory), and a later supervisor that
// got the same pid took them over as its own, showing the dead tree's
// files in its guest's /dev/shm. Now a supervisor removes, before its
// first guestproc, the directories named after its own pid (nobody's yet,
// whatever is there is stale), and, while its tree runs, those of
// supervisors that are gone.

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// treeDirPrefixes are the names of tree directories, before the pid.
var treeDirPrefixes = []string{"elfuse-shm-", "elfuse-cwd-"}

// treeDirs are the private host directories the guestprocs of the tree of
// supervisor pid may make on first use: the guest's /dev/shm, in the
// host's /dev/shm or in $TMPDIR (kernel/devfs.go shmDirs takes the first
// it can make), and the stand-ins of synthetic directories used as cwd
// (kernel/synth_cwd.go).
func treeDirs(pid int) []string {
	p := strconv.Itoa(pid)
	return []string{filepath.Join("/dev/shm", "elfuse-shm-"+p), filepath.Join(os.TempDir(), "elfuse-shm-"+p),
		filepath.Join(os.TempDir(), "elfuse-cwd-"+p)}
}

// removeTreeDirs removes the tree's private directories once every
// guestproc has ended: POSIX shared memory lives as long as the tree.
func removeTreeDirs(log hclog.Logger) {
	for _, dir := range treeDirs(os.Getpid()) {
		removeTreeDir(dir, log)
	}
}

// removeTreeDir removes dir when it is a directory of this user's; one
// that is not (a symlink, another owner) is left alone.
func removeTreeDir(dir string, log hclog.Logger) {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return // never made
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() {
		log.Warn("not removing a directory that is not the tree's", "dir", dir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		log.Warn("remove tree directory", "dir", dir, "error", err)
	}
}

// sweepTreeDirs removes what dead supervisors left: it returns once the
// directories named after this process's pid are gone (before any
// guestproc could take them over), and sweeps the others in the
// background; wait waits for that sweep.
func sweepTreeDirs(log hclog.Logger) (wait func()) {
	self := os.Getpid()
	for _, dir := range treeDirs(self) {
		removeTreeDir(dir, log)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, base := range []string{"/dev/shm", os.TempDir()} {
			sweepTreeDirsIn(base, self, supervisorAlive, log)
		}
	}()
	return func() { <-done }
}

// sweepTreeDirsIn removes the tree directories in base of supervisors that
// alive says are gone, and this user's only. Each is renamed first, so that
// a supervisor starting meanwhile with the same pid makes a new one.
func sweepTreeDirsIn(base string, self int, alive func(int) bool, log hclog.Logger) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(base, e.Name())
		if sweeper, ok := goneDirSweeper(e.Name()); ok {
			// Renamed by a sweep that did not finish (it died, or
			// its RemoveAll failed): taken up again unless that
			// sweep may still run. Names were listed before this
			// sweep renamed any: one of this pid is an earlier
			// process's.
			if e.IsDir() && (sweeper == self || !alive(sweeper)) && ownDir(dir) {
				if err := os.RemoveAll(dir); err != nil {
					log.Debug("remove a dead tree's directory again", "dir", dir, "error", err)
				}
			}
			continue
		}
		pid := treeDirPid(e.Name())
		if pid <= 0 || pid == self || !e.IsDir() || alive(pid) || !ownDir(dir) {
			continue
		}
		gone := filepath.Join(base, goneDirPrefix+strconv.Itoa(self)+"-"+e.Name())
		if err := os.Rename(dir, gone); err != nil {
			continue // swept by another supervisor, say
		}
		if err := os.RemoveAll(gone); err != nil {
			log.Warn("remove a dead tree's directory", "dir", dir, "error", err)
		}
		log.Debug("removed a dead tree's directory", "dir", dir)
	}
}

// goneDirPrefix starts the name a tree directory is renamed to for its
// removal, followed by the sweeping supervisor's pid, "-" and the old name.
const goneDirPrefix = ".elfuse-gone-"

// goneDirSweeper is the pid of the supervisor that renamed a directory
// for removal, when name is such a name.
func goneDirSweeper(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, goneDirPrefix)
	if !ok {
		return 0, false
	}
	p, old, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(p)
	if !ok || err != nil || pid <= 0 || treeDirPid(old) <= 0 {
		return 0, false
	}
	return pid, true
}

// ownDir tells whether dir is a directory (not a symlink) of this user's.
func ownDir(dir string) bool {
	var st unix.Stat_t
	return unix.Lstat(dir, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Getuid()
}

// treeDirPid is the supervisor pid a tree directory's name carries, or 0.
func treeDirPid(name string) int {
	for _, p := range treeDirPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok {
			if pid, err := strconv.Atoi(rest); err == nil && pid > 0 && strconv.Itoa(pid) == rest {
				return pid
			}
		}
	}
	return 0
}

// supervisorAlive tells whether the supervisor of host pid may still run:
// a process of that pid exists, or its control socket answers (a
// supervisor in another pid namespace that shares these directories).
// When in doubt, alive.
func supervisorAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		return true
	}
	dir, err := RuntimeDir()
	if err != nil {
		return true
	}
	c, err := net.DialTimeout("unix", controlPath(dir, pid), time.Second)
	if err == nil {
		c.Close()
		return true
	}
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT)
}
