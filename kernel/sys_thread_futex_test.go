package kernel

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

const (
	futexWord  = testMemBase + 0x200
	futexWord2 = testMemBase + 0x300
	futexTS    = testMemBase + 0x400
)

func (e *procTestEnv) setWord(addr abi.Addr, v uint32) {
	binary.LittleEndian.PutUint32(e.bytesAt(addr, 4), v)
}

func (e *procTestEnv) word(addr abi.Addr) uint32 {
	return binary.LittleEndian.Uint32(e.bytesAt(addr, 4))
}

func TestFutexImmediateResults(t *testing.T) {
	priv := uint64(abi.FUTEX_PRIVATE_FLAG)
	tests := []struct {
		name    string
		args    []uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"WAIT on a changed value is EAGAIN", []uint64{uint64(futexWord), abi.FUTEX_WAIT | priv, 1}, 0, abi.EAGAIN},
		{"shared WAIT on a changed value is EAGAIN", []uint64{uint64(futexWord), abi.FUTEX_WAIT, 1}, 0, abi.EAGAIN},
		{"WAKE with no waiters wakes 0", []uint64{uint64(futexWord), abi.FUTEX_WAKE | priv, 10}, 0, 0},
		{"WAKE_BITSET with bitset 0 is EINVAL", []uint64{uint64(futexWord), abi.FUTEX_WAKE_BITSET | priv, 1, 0, 0, 0}, 0, abi.EINVAL},
		{"WAIT_BITSET with bitset 0 is EINVAL", []uint64{uint64(futexWord), abi.FUTEX_WAIT_BITSET | priv, 0, 0, 0, 0}, 0, abi.EINVAL},
		{"misaligned word is EINVAL", []uint64{uint64(futexWord + 2), abi.FUTEX_WAKE | priv, 1}, 0, abi.EINVAL},
		{"WAIT on an unmapped word is EFAULT", []uint64{uint64(testBadAddr), abi.FUTEX_WAIT | priv, 0}, 0, abi.EFAULT},
		{"private WAKE on an unmapped word wakes nobody", []uint64{uint64(testBadAddr), abi.FUTEX_WAKE | priv, 1}, 0, 0},
		{"shared WAKE on an unmapped word is EFAULT", []uint64{uint64(testBadAddr), abi.FUTEX_WAKE, 1}, 0, abi.EFAULT},
		{"CMP_REQUEUE with a changed value is EAGAIN",
			[]uint64{uint64(futexWord), abi.FUTEX_CMP_REQUEUE | priv, 1, 1, uint64(futexWord2), 5}, 0, abi.EAGAIN},
		{"CMP_REQUEUE with the value moves nobody",
			[]uint64{uint64(futexWord), abi.FUTEX_CMP_REQUEUE | priv, 1, 1, uint64(futexWord2), 0}, 0, 0},
		{"CMP_REQUEUE_PI is ENOSYS",
			[]uint64{uint64(futexWord), abi.FUTEX_CMP_REQUEUE_PI | priv, 1, 1, uint64(futexWord2), 0}, 0, abi.ENOSYS},
		{"UNLOCK_PI of a free word is EPERM", []uint64{uint64(futexWord), abi.FUTEX_UNLOCK_PI | priv}, 0, abi.EPERM},
		{"LOCK_PI on a misaligned word is EINVAL", []uint64{uint64(futexWord + 1), abi.FUTEX_LOCK_PI | priv}, 0, abi.EINVAL},
		{"LOCK_PI on an unmapped word is EFAULT", []uint64{uint64(testBadAddr), abi.FUTEX_LOCK_PI | priv}, 0, abi.EFAULT},
		{"FUTEX_FD is ENOSYS", []uint64{uint64(futexWord), abi.FUTEX_FD}, 0, abi.ENOSYS},
		{"CLOCK_REALTIME with WAKE is ENOSYS",
			[]uint64{uint64(futexWord), abi.FUTEX_WAKE | abi.FUTEX_CLOCK_REALTIME, 1}, 0, abi.ENOSYS},
		{"invalid timeout is EINVAL",
			[]uint64{uint64(futexWord), abi.FUTEX_WAIT | priv, 0, uint64(futexTS)}, 0, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			copy(e.bytesAt(futexTS, 16), abi.Timespec{Nsec: -5}.Bytes())
			got, err := e.call(Futex, tc.args...)
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestFutexPIWordProtocol(t *testing.T) {
	priv := uint64(abi.FUTEX_PRIVATE_FLAG)
	e := newProcTestEnv(t)
	me := uint32(e.t.Tid)
	lock := func(op uint64, want abi.Errno) {
		t.Helper()
		if _, err := e.call(Futex, uint64(futexWord), op|priv); errnoOf(err) != want {
			t.Fatalf("op %d on word %#x: %v, want errno %d", op, e.word(futexWord), err, want)
		}
	}
	e.setWord(futexWord, 0)
	lock(abi.FUTEX_LOCK_PI, 0)
	if got := e.word(futexWord); got != me {
		t.Fatalf("a free word taken holds %#x, want the caller's id %#x", got, me)
	}
	lock(abi.FUTEX_LOCK_PI, abi.EDEADLK)
	lock(abi.FUTEX_TRYLOCK_PI, abi.EDEADLK)
	lock(abi.FUTEX_UNLOCK_PI, 0)
	if got := e.word(futexWord); got != 0 {
		t.Fatalf("an unlocked word holds %#x, want 0", got)
	}
	e.setWord(futexWord, abi.FUTEX_OWNER_DIED)
	lock(abi.FUTEX_TRYLOCK_PI, 0)
	if got := e.word(futexWord); got != me|abi.FUTEX_OWNER_DIED {
		t.Fatalf("a word whose owner died, taken, holds %#x, want %#x", got, me|abi.FUTEX_OWNER_DIED)
	}
	lock(abi.FUTEX_UNLOCK_PI, 0)
	e.setWord(futexWord, me+1000) // no such thread
	lock(abi.FUTEX_LOCK_PI, abi.ESRCH)
	lock(abi.FUTEX_UNLOCK_PI, abi.EPERM)
}

func TestFutexWaitTimesOut(t *testing.T) {
	tests := []struct {
		name string
		op   uint64
		ts   func() abi.Timespec
	}{
		{"WAIT relative", abi.FUTEX_WAIT | abi.FUTEX_PRIVATE_FLAG,
			func() abi.Timespec { return abi.Timespec{Nsec: 30e6} }},
		{"WAIT_BITSET absolute monotonic", abi.FUTEX_WAIT_BITSET | abi.FUTEX_PRIVATE_FLAG,
			func() abi.Timespec {
				n, _ := readClock(abi.CLOCK_MONOTONIC)
				return abi.NsecToTimespec(n.Nanoseconds() + 30e6)
			}},
		{"WAIT_BITSET absolute realtime", abi.FUTEX_WAIT_BITSET | abi.FUTEX_PRIVATE_FLAG | abi.FUTEX_CLOCK_REALTIME,
			func() abi.Timespec {
				n, _ := readClock(abi.CLOCK_REALTIME)
				return abi.NsecToTimespec(n.Nanoseconds() + 30e6)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			copy(e.bytesAt(futexTS, 16), tc.ts().Bytes())
			start := time.Now()
			_, err := e.call(Futex, uint64(futexWord), tc.op, 0, uint64(futexTS), 0, abi.FUTEX_BITSET_MATCH_ANY)
			if errnoOf(err) != abi.ETIMEDOUT {
				t.Fatalf("got %v, want ETIMEDOUT", err)
			}
			if d := time.Since(start); d < 25*time.Millisecond {
				t.Fatalf("timed out after %v, asked 30ms", d)
			}
		})
	}
}

// waitInBackground runs a futex wait on a locked goroutine and returns a
// channel with its result.
func waitInBackground(e *procTestEnv, args ...uint64) chan error {
	res := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(started)
		_, err := e.call(Futex, args...)
		res <- err
	}()
	<-started
	return res
}

// wakeUntil calls FUTEX_WAKE until it reports a woken waiter or time runs out.
func wakeUntil(t *testing.T, e *procTestEnv, args ...uint64) uint64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n, err := e.call(Futex, args...)
		if err != nil {
			t.Fatalf("wake: %v", err)
		}
		if n > 0 {
			return n
		}
	}
	t.Fatal("no waiter was ever woken")
	return 0
}

func TestFutexWakeWakesAWaiter(t *testing.T) {
	for _, priv := range []uint64{0, abi.FUTEX_PRIVATE_FLAG} {
		e := newProcTestEnv(t)
		res := waitInBackground(e, uint64(futexWord), abi.FUTEX_WAIT|priv, 0)
		if n := wakeUntil(t, e, uint64(futexWord), abi.FUTEX_WAKE|priv, 1); n != 1 {
			t.Fatalf("woke %d", n)
		}
		select {
		case err := <-res:
			if err != nil {
				t.Fatalf("waiter returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiter never returned")
		}
	}
}

func TestFutexWakeBitsetOnlyWakesMatchingWaiters(t *testing.T) {
	e := newProcTestEnv(t)
	res := waitInBackground(e, uint64(futexWord), abi.FUTEX_WAIT_BITSET|abi.FUTEX_PRIVATE_FLAG, 0, 0, 0, 0b01)
	time.Sleep(20 * time.Millisecond)
	if n, err := e.call(Futex, uint64(futexWord), abi.FUTEX_WAKE_BITSET|abi.FUTEX_PRIVATE_FLAG, 1, 0, 0, 0b10); err != nil || n != 0 {
		t.Fatalf("non-matching wake woke %d, %v", n, err)
	}
	wakeUntil(t, e, uint64(futexWord), abi.FUTEX_WAKE_BITSET|abi.FUTEX_PRIVATE_FLAG, 1, 0, 0, 0b01)
	if err := <-res; err != nil {
		t.Fatalf("waiter returned %v", err)
	}
}

func TestFutexRequeueMovesWaiters(t *testing.T) {
	e := newProcTestEnv(t)
	res := waitInBackground(e, uint64(futexWord), abi.FUTEX_WAIT|abi.FUTEX_PRIVATE_FLAG, 0)
	// Wake none, requeue up to 1 onto the second word; then wake that.
	wakeUntil(t, e, uint64(futexWord), abi.FUTEX_CMP_REQUEUE|abi.FUTEX_PRIVATE_FLAG, 0, 1, uint64(futexWord2), 0)
	select {
	case err := <-res:
		t.Fatalf("requeued waiter returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if n := wakeUntil(t, e, uint64(futexWord2), abi.FUTEX_WAKE|abi.FUTEX_PRIVATE_FLAG, 1); n != 1 {
		t.Fatalf("woke %d on the second word", n)
	}
	if err := <-res; err != nil {
		t.Fatalf("waiter returned %v", err)
	}
}

func TestFutexWakeOpChangesTheSecondWord(t *testing.T) {
	e := newProcTestEnv(t)
	e.setWord(futexWord2, 5)
	// FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5): op 1, cmp 0.
	const wakeOp = 1<<28 | 0<<24 | 3<<12 | 5
	n, err := e.call(Futex, uint64(futexWord), abi.FUTEX_WAKE_OP|abi.FUTEX_PRIVATE_FLAG, 1, 1, uint64(futexWord2), wakeOp)
	if err != nil || n != 0 {
		t.Fatalf("wake_op = %d, %v", n, err)
	}
	if got := e.word(futexWord2); got != 8 {
		t.Fatalf("second word = %d, want 5+3", got)
	}
}

func TestFutexWaitIsInterruptible(t *testing.T) {
	tests := []struct {
		name    string
		timeout bool
		want    abi.Errno
	}{
		{"untimed wait restarts (ERESTARTSYS)", false, abi.ERESTARTSYS},
		{"timed wait is EINTR", true, abi.EINTR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			ts := uint64(0)
			if tc.timeout {
				ts = uint64(futexTS)
				copy(e.bytesAt(futexTS, 16), abi.Timespec{Sec: 30}.Bytes())
			}
			var wg sync.WaitGroup
			wg.Add(1)
			var err error
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				_, err = e.call(Futex, uint64(futexWord), abi.FUTEX_WAIT|abi.FUTEX_PRIVATE_FLAG, 0, ts)
			}()
			time.Sleep(30 * time.Millisecond)
			start := time.Now()
			e.t.InterruptWait()
			wg.Wait()
			if errnoOf(err) != tc.want {
				t.Fatalf("got %v, want errno %d", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("interrupt took %v", d)
			}
		})
	}
}

// noHostAddrMem hides procTestMem's HostAddr.
type noHostAddrMem struct{ Memory }

func TestFutexWithoutHostAddressesIsENOSYS(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.Mem = noHostAddrMem{e.mem}
	if _, err := e.call(Futex, uint64(futexWord), abi.FUTEX_WAKE, 1); errnoOf(err) != abi.ENOSYS {
		t.Fatalf("got %v, want ENOSYS", err)
	}
}
