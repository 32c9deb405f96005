package kernel

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

// countFires replaces the process's SIGALRM delivery with a counter.
func countFires(e *procTestEnv) *atomic.Int32 {
	var n atomic.Int32
	r := e.t.realTimer()
	r.mu.Lock()
	r.fire = func() { n.Add(1) }
	r.mu.Unlock()
	return &n
}

// putItv writes a struct itimerval {interval, value} into test memory.
func (e *procTestEnv) putItv(addr abi.Addr, isec, iusec, vsec, vusec int64) {
	b := e.bytesAt(addr, sizeofItimerval)
	for i, v := range []int64{isec, iusec, vsec, vusec} {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
}

// readItv returns {interval, value} of a struct itimerval in test memory.
func (e *procTestEnv) readItv(addr abi.Addr) (interval, value time.Duration) {
	b := e.bytesAt(addr, sizeofItimerval)
	f := func(i int) time.Duration { return time.Duration(binary.LittleEndian.Uint64(b[8*i:])) }
	return f(0)*time.Second + f(1)*time.Microsecond, f(2)*time.Second + f(3)*time.Microsecond
}

func TestSetitimerOneShotFiresOnce(t *testing.T) {
	e := newProcTestEnv(t)
	fires := countFires(e)
	e.putItv(testMemBase, 0, 0, 0, 30000)
	start := time.Now()
	if _, err := e.call(Setitimer, itimerReal, uint64(testMemBase), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Getitimer, itimerReal, uint64(testMemBase+0x40)); err != nil {
		t.Fatal(err)
	}
	if iv, v := e.readItv(testMemBase + 0x40); iv != 0 || v <= 0 || v > 30*time.Millisecond {
		t.Fatalf("getitimer while armed: interval %v value %v", iv, v)
	}
	for fires.Load() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("fired after %v, armed for 30ms", d)
	}
	time.Sleep(60 * time.Millisecond)
	if n := fires.Load(); n != 1 {
		t.Fatalf("fired %d times", n)
	}
	if _, err := e.call(Getitimer, itimerReal, uint64(testMemBase+0x40)); err != nil {
		t.Fatal(err)
	}
	if iv, v := e.readItv(testMemBase + 0x40); iv != 0 || v != 0 {
		t.Fatalf("getitimer after expiry: interval %v value %v", iv, v)
	}
}

func TestSetitimerIntervalRepeatsUntilDisarmed(t *testing.T) {
	e := newProcTestEnv(t)
	fires := countFires(e)
	e.putItv(testMemBase, 0, 10000, 0, 10000)
	if _, err := e.call(Setitimer, itimerReal, uint64(testMemBase), 0); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); fires.Load() < 3 && time.Since(start) < 5*time.Second; {
		time.Sleep(time.Millisecond)
	}
	if fires.Load() < 3 {
		t.Fatalf("only %d expiries of a 10ms interval timer", fires.Load())
	}
	// Disarming with a NULL value returns the old setting.
	if _, err := e.call(Setitimer, itimerReal, 0, uint64(testMemBase+0x40)); err != nil {
		t.Fatal(err)
	}
	if iv, v := e.readItv(testMemBase + 0x40); iv != 10*time.Millisecond || v <= 0 || v > 10*time.Millisecond {
		t.Fatalf("old setting: interval %v value %v", iv, v)
	}
	n := fires.Load()
	time.Sleep(40 * time.Millisecond)
	if fires.Load() != n {
		t.Fatalf("fired after being disarmed")
	}
}

func TestItimerErrors(t *testing.T) {
	tests := []struct {
		name    string
		fn      SyscallFn
		args    []uint64
		wantErr abi.Errno
	}{
		{"ITIMER_VIRTUAL is refused", Setitimer, []uint64{1, uint64(testMemBase), 0}, abi.EINVAL},
		{"ITIMER_PROF is refused", Getitimer, []uint64{2, uint64(testMemBase)}, abi.EINVAL},
		{"unknown timer", Getitimer, []uint64{3, uint64(testMemBase)}, abi.EINVAL},
		{"usec of a whole second", Setitimer, []uint64{itimerReal, uint64(testMemBase + 0x100), 0}, abi.EINVAL},
		{"bad new value", Setitimer, []uint64{itimerReal, uint64(testBadAddr), 0}, abi.EFAULT},
		{"bad old value", Setitimer, []uint64{itimerReal, 0, uint64(testBadAddr)}, abi.EFAULT},
		{"bad getitimer buffer", Getitimer, []uint64{itimerReal, uint64(testBadAddr)}, abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			countFires(e)
			e.putItv(testMemBase+0x100, 0, 0, 1, 1000000)
			if _, err := e.call(tc.fn, tc.args...); errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestAlarmReturnsRoundedSecondsLeft(t *testing.T) {
	e := newProcTestEnv(t)
	countFires(e)
	if got, _ := e.call(Alarm, 100); got != 0 {
		t.Fatalf("first alarm returned %d, want 0", got)
	}
	if got, _ := e.call(Alarm, 5); got != 100 {
		t.Fatalf("second alarm returned %d, want 100 left of the first", got)
	}
	e.putItv(testMemBase, 0, 0, 0, 300000) // 0.3 s left must read as 1
	if _, err := e.call(Setitimer, itimerReal, uint64(testMemBase), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.call(Alarm, 0); got != 1 {
		t.Fatalf("alarm(0) with 0.3s left returned %d, want 1", got)
	}
	if got, _ := e.call(Alarm, 0); got != 0 {
		t.Fatalf("alarm(0) with nothing pending returned %d", got)
	}
}
