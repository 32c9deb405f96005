package ptrace

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The words the tracer and the stub's helper thread share (helper.go): the
// first four bytes of b, in the tracer's mapping of the stub's data area.
// Futexes on a shared mapping are keyed by the file's page, so a wait or
// wake here meets the helper's on its own mapping of the same page.

func wordAt(b []byte) *uint32 { return (*uint32)(unsafe.Pointer(&b[0])) }

func storeWord(b []byte, v uint32) { atomic.StoreUint32(wordAt(b), v) }

func loadWord(b []byte) uint32 { return atomic.LoadUint32(wordAt(b)) }

// Futex operations (linux/futex.h), shared: not FUTEX_PRIVATE_FLAG.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

// futexWake wakes the helper waiting on the word.
func futexWake(b []byte) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(wordAt(b))), futexWakeOp, 1, 0, 0, 0)
}

// futexWait sleeps while the word is old, at most d; it returns the
// wait's error (ETIMEDOUT, EAGAIN when the word had changed already).
func futexWait(b []byte, old uint32, d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(wordAt(b))), futexWaitOp,
		uintptr(old), uintptr(unsafe.Pointer(&ts)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
