package supervisor

// The control socket `elfuse dump` connects to, and SIGUSR1.
//
// Every supervisor listens on a SOCK_STREAM AF_UNIX socket named by its
// host pid, <pid>.sock, in the user's runtime directory (RuntimeDir, mode
// 0700, so only the user reaches it; the peer's uid is checked as well).
// Protocol, one exchange per connection:
//
//	client → supervisor   {"op":"dump"}\n
//	supervisor → client   one JSON document ([]DumpProc), then close
//
// The socket is removed when Run returns; a supervisor killed by SIGKILL
// leaves it behind, and Supervisors removes such stale sockets.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// controlRequest is what a client sends.
type controlRequest struct {
	Op string `json:"op"`
}

// RuntimeDir returns the directory of control sockets, creating it with
// mode 0700: $XDG_RUNTIME_DIR/elfuse, else /run/user/UID/elfuse, else
// /tmp/elfuse-UID. A directory that exists must be the user's own, not a
// symlink, and not open to others.
func RuntimeDir() (string, error) {
	uid := os.Getuid()
	var dir string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		dir = filepath.Join(x, "elfuse")
	} else if st, err := os.Stat(fmt.Sprintf("/run/user/%d", uid)); err == nil && st.IsDir() {
		dir = fmt.Sprintf("/run/user/%d/elfuse", uid)
	} else {
		dir = fmt.Sprintf("%s/elfuse-%d", os.TempDir(), uid)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("control directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("control directory: %w", err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "", fmt.Errorf("control directory %s: not a directory", dir)
	case int(st.Uid) != uid:
		return "", fmt.Errorf("control directory %s: owned by uid %d, not %d", dir, st.Uid, uid)
	case st.Mode&0o077 != 0:
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("control directory: %w", err)
		}
	}
	return dir, nil
}

func controlPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+".sock")
}

// startControl listens on the control socket and dumps to stderr on
// SIGUSR1. It returns a function that stops both and removes the socket.
// Failing to listen only costs `elfuse dump`; the guest runs anyway.
func (s *supervisor) startControl() (stop func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, unix.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-usr1:
				WriteDumpText(os.Stderr, s.Dump())
			case <-done:
				return
			}
		}
	}()
	var ln *net.UnixListener
	path := ""
	if dir, err := RuntimeDir(); err != nil {
		s.log.Warn("no control socket: elfuse dump will not see this tree", "error", err)
	} else {
		id := s.controlID
		if id <= 0 {
			id = os.Getpid()
		}
		path = controlPath(dir, id)
		os.Remove(path) // a stale socket of a dead process with our pid
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			s.log.Warn("no control socket: elfuse dump will not see this tree", "error", err)
		} else {
			ln.SetUnlinkOnClose(true)
			go s.acceptControl(ln)
		}
	}
	return func() {
		signal.Stop(usr1)
		close(done)
		if ln != nil {
			ln.Close()
		}
	}
}

func (s *supervisor) acceptControl(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		go s.serveControl(c)
	}
}

// serveControl answers one client.
func (s *supervisor) serveControl(c *net.UnixConn) {
	defer c.Close()
	if !sameUser(c) {
		return
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	var req controlRequest
	if err := json.Unmarshal(line, &req); err != nil || req.Op != "dump" {
		fmt.Fprintf(c, "{\"error\":%q}\n", "unknown request")
		return
	}
	json.NewEncoder(c).Encode(s.Dump())
}

// sameUser reports whether the peer runs as this process's uid.
func sameUser(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return err == nil && cred != nil && int(cred.Uid) == os.Getuid()
}

// Supervisors lists the host pids of the running supervisors of this user
// (those whose control socket answers), removing stale sockets.
func Supervisors() ([]int, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".sock")
		pid, err := strconv.Atoi(name)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		path := filepath.Join(dir, e.Name())
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			// A refused connection is a socket left by a dead supervisor
			// -- or one that has bound but not yet listened: only the
			// first may be removed.
			if !errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			if syscall.Kill(pid, 0) == syscall.ESRCH {
				os.Remove(path) // its supervisor died without cleaning up
				continue
			}
		} else {
			c.Close()
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

// FetchDump asks the supervisor with host pid id for its tree.
func FetchDump(id int) ([]DumpProc, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("unix", controlPath(dir, id), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("no elfuse supervisor %d: %w", id, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("{\"op\":\"dump\"}\n")); err != nil {
		return nil, fmt.Errorf("supervisor %d: %w", id, err)
	}
	var procs []DumpProc
	if err := json.NewDecoder(c).Decode(&procs); err != nil {
		return nil, fmt.Errorf("supervisor %d: bad answer: %w", id, err)
	}
	return procs, nil
}
