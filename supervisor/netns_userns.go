package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// runInUserns re-executes this elfuse, with the same arguments, in a new
// user namespace (the caller's uid and gid mapped to themselves, so the
// guest sees the same ids) and a new network namespace, waits for it and
// returns its exit status. The child keeps CAP_NET_ADMIN as an ambient
// capability so that it can bring its loopback up; it gets the standard
// descriptors and inherited, the caller's descriptors meant for pid 1,
// at their numbers. An error means the child could not be started (user
// namespaces disabled, say): nothing ran.
func runInUserns(inherited []int) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	top := 2
	for _, fd := range inherited {
		top = max(top, fd)
	}
	files := make([]uintptr, top+1)
	for i := range files {
		files[i] = ^uintptr(0) // closed in the child
	}
	files[0], files[1], files[2] = 0, 1, 2
	for _, fd := range inherited {
		files[fd] = uintptr(fd)
	}
	uid, gid := os.Getuid(), os.Getgid()
	// Relay before the child exists, so that no signal is lost between.
	// Terminal signals (SIGINT, SIGQUIT) reach the child directly: it is
	// in our process group; relaying them would deliver them twice, so
	// they are caught and dropped here (not ignored: SIG_IGN would be
	// inherited across exec).
	tty := make(chan os.Signal, 1)
	signal.Notify(tty, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(tty)
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	// Pdeathsig fires when the forking thread ends: keep it until the
	// child is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec(self, os.Args, &syscall.ProcAttr{
		Env:   append(os.Environ(), netChildEnv+"="+strconv.Itoa(os.Getpid())),
		Files: files,
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNET,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
			// An unprivileged process may map its gid only once
			// setgroups is denied.
			GidMappingsEnableSetgroups: false,
			AmbientCaps:                []uintptr{unix.CAP_NET_ADMIN},
			Pdeathsig:                  syscall.SIGKILL,
		},
	})
	if err != nil {
		return 0, err
	}
	waited := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		waited <- ws
	}()
	for {
		select {
		case <-tty:
		case sig := <-sigs:
			syscall.Kill(pid, sig.(syscall.Signal))
		case ws := <-waited:
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}
