package supervisor

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction on x86-64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func rtSigaction(sig syscall.Signal, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// stopSelfWith stops elfuse with stop signal sig under its default action
// and returns once elfuse is continued. The Go runtime keeps its own
// handler for a signal it was once asked to notify (signal.Reset only
// stops the notification and the runtime then drops the signal), so the
// disposition is set to SIG_DFL by hand around a signal sent to this very
// thread, which acts on it before tgkill returns, and put back after.
func stopSelfWith(sig syscall.Signal) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old kernelSigaction
	dfl := kernelSigaction{handler: 0} // SIG_DFL
	if err := rtSigaction(sig, &dfl, &old); err != nil {
		unix.Kill(unix.Getpid(), unix.SIGSTOP)
		return
	}
	unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	rtSigaction(sig, &old, nil)
}
