package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// --net values.
const (
	// NetHost runs the tree on the host's network (the default).
	NetHost = "host"
	// NetNone runs the whole tree in one fresh network namespace that
	// has only a loopback, brought up by the supervisor.
	NetNone = "none"
)

// ParseNet checks a --net value. (In a Config, "" means NetHost.)
func ParseNet(v string) (string, error) {
	switch v {
	case NetHost:
		return NetHost, nil
	case NetNone:
		return NetNone, nil
	}
	return "", fmt.Errorf("unknown --net %q (want host or none)", v)
}

// netChildEnv marks the supervisor that a --net=none elfuse re-executed
// inside a fresh user and network namespace (netns_userns.go); its value
// is the pid of the elfuse that did, which names the control socket. It
// is taken out of the guest's environment.
const netChildEnv = "ELFUSE_NETNS_CHILD"

// How the tree gets its network namespace (one per tree, so that any
// process in it reaches another's loopback listener):
//
//   - With CAP_SYS_ADMIN (root, as usual for this tool) the supervisor's
//     spawner thread, the one locked OS thread every guestproc is forked
//     from (server.go), unshares CLONE_NEWNET. unshare changes only the
//     calling thread, and that thread never runs anything else and dies
//     with the process, so pid 1, spares, recycled guestprocs, fork
//     children and their ptrace stubs all start in that one namespace
//     while the rest of the supervisor (control socket, logs) stays
//     where it was. Guestprocs are never started from another thread.
//     (The spawner may have locked the main thread: /proc/PID/ns/net of
//     the supervisor then names the new namespace, though its other
//     threads stay on the host's.)
//   - Without it, a multithreaded Go process cannot unshare
//     CLONE_NEWUSER, so elfuse re-executes itself with Cloneflags
//     CLONE_NEWUSER|CLONE_NEWNET (the caller's uid and gid mapped to
//     themselves, CAP_NET_ADMIN kept as an ambient capability to set up
//     the loopback) and the whole supervisor runs inside; this process
//     only waits for it and relays signals (netns_userns.go).
//   - If neither works, elfuse fails before running anything: the guest
//     never silently gets the host's network.
//
// The control socket for elfuse dump is bound to a file-system path, so
// the namespace does not hide it.

// setupNet puts the tree in a fresh network namespace when cfg.Net is
// NetNone. done reports that Run must return code at once: the
// namespace could not be made, or a re-executed elfuse ran the tree.
// inherited are the caller's descriptors meant for pid 1.
func (s *supervisor) setupNet(cfg *Config, inherited []int) (code int, done bool) {
	outer := os.Getenv(netChildEnv)
	child := outer != ""
	if child {
		// The elfuse that re-ran this one: elfuse dump knows its pid.
		if pid, err := strconv.Atoi(outer); err == nil && pid > 0 {
			s.controlID = pid
		}
		os.Unsetenv(netChildEnv)
		cfg.Env = dropEnv(cfg.Env, netChildEnv)
		s.cfg.Env = cfg.Env
	}
	if cfg.Net != NetNone {
		return 0, false
	}
	var err error
	if child {
		// Already inside the namespaces the parent made for us.
		if err := loopbackUp(netns.None()); err != nil {
			fmt.Fprintf(os.Stderr, "elfuse: --net=none: %v\n", err)
			return ExitInternal, true
		}
		// CAP_NET_ADMIN was for lo only: guestprocs, forked from the
		// spawner thread, must not inherit it (ambient sets are per
		// thread and survive exec).
		s.spawner.run(func() {
			err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
		})
		if err != nil {
			s.log.Warn("guests keep CAP_NET_ADMIN in their namespace", "error", err)
		}
		return 0, false
	}
	var ns netns.NsHandle
	s.spawner.run(func() {
		if err = unix.Unshare(unix.CLONE_NEWNET); err == nil {
			ns, err = netns.Get() // this thread's namespace
		}
	})
	if err == nil {
		defer ns.Close()
		if err := loopbackUp(ns); err != nil {
			fmt.Fprintf(os.Stderr, "elfuse: --net=none: %v\n", err)
			return ExitInternal, true
		}
		s.log.Debug("tree runs in a fresh network namespace")
		return 0, false
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
		fmt.Fprintf(os.Stderr, "elfuse: --net=none: cannot create a network namespace: %v\n", err)
		return ExitInternal, true
	}
	s.log.Debug("no CAP_SYS_ADMIN for a network namespace, trying a user namespace", "error", err)
	code, uerr := runInUserns(inherited)
	if errors.Is(uerr, unix.ENOSPC) || errors.Is(uerr, unix.EPERM) || errors.Is(uerr, unix.EUSERS) {
		uerr = fmt.Errorf("%w (user namespaces disabled or used up: see /proc/sys/user/max_user_namespaces)", uerr)
	}
	if uerr != nil {
		fmt.Fprintf(os.Stderr, "elfuse: --net=none: cannot create a network namespace: "+
			"unshare(CLONE_NEWNET): %v; in a new user namespace: %v\n", err, uerr)
		return ExitInternal, true
	}
	return code, true
}

// loopbackUp brings up lo in namespace ns (netns.None(): the caller's).
func loopbackUp(ns netns.NsHandle) error {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// dropEnv returns env without the entries for key.
func dropEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}
