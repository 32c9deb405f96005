package kernel

import (
	"runtime"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// readTS reads a timespec the handler wrote into test memory.
func (e *procTestEnv) readTS(addr abi.Addr) abi.Timespec {
	return abi.TimespecFromBytes(e.bytesAt(addr, abi.SizeofTimespec))
}

func hostNow(t *testing.T, clk int32) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(clk, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano()
}

func TestClockGettimeReadsHostClocks(t *testing.T) {
	for _, clk := range []int32{abi.CLOCK_REALTIME, abi.CLOCK_MONOTONIC, abi.CLOCK_BOOTTIME, abi.CLOCK_TAI, abi.CLOCK_MONOTONIC_RAW} {
		e := newProcTestEnv(t)
		before := hostNow(t, clk)
		if _, err := e.call(ClockGettime, uint64(clk), uint64(testMemBase)); err != nil {
			t.Fatalf("clock %d: %v", clk, err)
		}
		after := hostNow(t, clk)
		if got := e.readTS(testMemBase).Nanoseconds(); got < before || got > after {
			t.Errorf("clock %d: %d not within host [%d, %d]", clk, got, before, after)
		}
	}
}

func TestClockIDValidation(t *testing.T) {
	self := func(pid int32, perThread bool, kind int32) uint64 {
		id := ^pid<<3 | kind
		if perThread {
			id |= abi.CPUCLOCK_PERTHREAD_MASK
		}
		return uint64(uint32(id))
	}
	tests := []struct {
		name    string
		clk     uint64
		wantErr abi.Errno
	}{
		{"CLOCK_PROCESS_CPUTIME_ID", abi.CLOCK_PROCESS_CPUTIME_ID, 0},
		{"CLOCK_THREAD_CPUTIME_ID", abi.CLOCK_THREAD_CPUTIME_ID, 0},
		{"CLOCK_MONOTONIC_COARSE", abi.CLOCK_MONOTONIC_COARSE, 0},
		{"removed id 10 is EINVAL", 10, abi.EINVAL},
		{"id past the last is EINVAL", 16, abi.EINVAL},
		{"own process CPU clock (pid 0)", self(0, false, abi.CPUCLOCK_SCHED), 0},
		{"own process CPU clock by pid", self(1, false, abi.CPUCLOCK_PROF), 0},
		{"own thread CPU clock by tid", self(1, true, abi.CPUCLOCK_SCHED), 0},
		{"another process's CPU clock is EINVAL", self(1234, false, abi.CPUCLOCK_SCHED), abi.EINVAL},
		{"posix-clock descriptor is EINVAL", self(3, false, abi.CLOCKFD), abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			_, err := e.call(ClockGettime, tc.clk, uint64(testMemBase))
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("clock_gettime: %v, want errno %d", err, tc.wantErr)
			}
			_, err = e.call(ClockGetres, tc.clk, 0)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("clock_getres: %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestClockGettimeBadPointerIsEFAULT(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(ClockGettime, abi.CLOCK_MONOTONIC, uint64(testBadAddr)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("got %v, want EFAULT", err)
	}
	if _, err := e.call(ClockGettime, abi.CLOCK_MONOTONIC, uint64(testMemEnd-8)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("half-mapped timespec: got %v, want EFAULT", err)
	}
}

func TestClockGetresMatchesHost(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(ClockGetres, abi.CLOCK_MONOTONIC, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	var want unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC, &want); err != nil {
		t.Fatal(err)
	}
	if got := e.readTS(testMemBase); got.Sec != want.Sec || got.Nsec != want.Nsec {
		t.Fatalf("res = %+v, host %+v", got, want)
	}
}

func TestGettimeofdayAndTime(t *testing.T) {
	e := newProcTestEnv(t)
	before := time.Now().Unix()
	if _, err := e.call(Gettimeofday, uint64(testMemBase), uint64(testMemBase+16)); err != nil {
		t.Fatal(err)
	}
	got, err := e.call(Time, uint64(testMemBase+32))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	sec := e.readTS(testMemBase).Sec
	usec := e.readTS(testMemBase).Nsec
	if sec < before || sec > after || usec < 0 || usec >= 1e6 {
		t.Errorf("gettimeofday = %d.%06d, host between %d and %d", sec, usec, before, after)
	}
	if int64(got) < before || int64(got) > after || e.readTS(testMemBase+32).Sec != int64(got) {
		t.Errorf("time() = %d (stored %d), host between %d and %d", got, e.readTS(testMemBase+32).Sec, before, after)
	}
	if _, err := e.call(Gettimeofday, 0, 0); err != nil {
		t.Errorf("gettimeofday(NULL, NULL): %v", err)
	}
	if _, err := e.call(Time, uint64(testBadAddr)); errnoOf(err) != abi.EFAULT {
		t.Errorf("time(bad): %v, want EFAULT", err)
	}
}

func TestNanosleepSleepsAtLeastTheRequest(t *testing.T) {
	e := newProcTestEnv(t)
	copy(e.bytesAt(testMemBase, 16), abi.Timespec{Nsec: 20e6}.Bytes())
	start := time.Now()
	if _, err := e.call(Nanosleep, uint64(testMemBase), 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("slept %v, asked 20ms", d)
	}
}

func TestSleepArgumentErrors(t *testing.T) {
	tests := []struct {
		name    string
		fn      SyscallFn
		ts      abi.Timespec
		args    func(req abi.Addr) []uint64
		wantErr abi.Errno
	}{
		{"nanosleep negative nsec", Nanosleep, abi.Timespec{Nsec: -1},
			func(r abi.Addr) []uint64 { return []uint64{uint64(r), 0} }, abi.EINVAL},
		{"nanosleep nsec of a whole second", Nanosleep, abi.Timespec{Nsec: 1e9},
			func(r abi.Addr) []uint64 { return []uint64{uint64(r), 0} }, abi.EINVAL},
		{"nanosleep negative seconds", Nanosleep, abi.Timespec{Sec: -1},
			func(r abi.Addr) []uint64 { return []uint64{uint64(r), 0} }, abi.EINVAL},
		{"nanosleep bad request pointer", Nanosleep, abi.Timespec{},
			func(r abi.Addr) []uint64 { return []uint64{uint64(testBadAddr), 0} }, abi.EFAULT},
		{"clock_nanosleep on the thread CPU clock", ClockNanosleep, abi.Timespec{},
			func(r abi.Addr) []uint64 { return []uint64{abi.CLOCK_THREAD_CPUTIME_ID, 0, uint64(r), 0} }, abi.EINVAL},
		{"clock_nanosleep on an unknown clock", ClockNanosleep, abi.Timespec{},
			func(r abi.Addr) []uint64 { return []uint64{10, 0, uint64(r), 0} }, abi.EINVAL},
		{"clock_nanosleep absolute time in the past returns", ClockNanosleep, abi.Timespec{Sec: 1},
			func(r abi.Addr) []uint64 { return []uint64{abi.CLOCK_MONOTONIC, abi.TIMER_ABSTIME, uint64(r), 0} }, 0},
		{"clock_nanosleep zero relative returns", ClockNanosleep, abi.Timespec{},
			func(r abi.Addr) []uint64 { return []uint64{abi.CLOCK_REALTIME, 0, uint64(r), 0} }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			copy(e.bytesAt(testMemBase, 16), tc.ts.Bytes())
			_, err := e.call(tc.fn, tc.args(testMemBase)...)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestClockNanosleepAbsoluteWaitsForTheDeadline(t *testing.T) {
	e := newProcTestEnv(t)
	deadline := hostNow(t, unix.CLOCK_MONOTONIC) + 30e6
	copy(e.bytesAt(testMemBase, 16), abi.NsecToTimespec(deadline).Bytes())
	if _, err := e.call(ClockNanosleep, abi.CLOCK_MONOTONIC, abi.TIMER_ABSTIME, uint64(testMemBase), 0); err != nil {
		t.Fatal(err)
	}
	if now := hostNow(t, unix.CLOCK_MONOTONIC); now < deadline {
		t.Fatalf("woke %dns before the deadline", deadline-now)
	}
}

// interruptAfter calls InterruptWait on task after d.
func interruptAfter(task *Task, d time.Duration) {
	go func() {
		time.Sleep(d)
		task.InterruptWait()
	}()
}

func TestNanosleepInterruptedReportsRemainingTime(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e := newProcTestEnv(t)
	req, rem := testMemBase, testMemBase+16
	copy(e.bytesAt(req, 16), abi.Timespec{Sec: 5}.Bytes())
	interruptAfter(e.t, 50*time.Millisecond)
	start := time.Now()
	_, err := e.call(Nanosleep, uint64(req), uint64(rem))
	if errnoOf(err) != abi.EINTR {
		t.Fatalf("got %v, want EINTR", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("interrupt took %v", d)
	}
	left := time.Duration(e.readTS(rem).Nanoseconds())
	if left <= 2*time.Second || left >= 5*time.Second {
		t.Fatalf("remaining = %v, want a little under 5s", left)
	}
	// The interruption stays until the signal code clears it.
	if _, err := e.call(Nanosleep, uint64(req), 0); errnoOf(err) != abi.EINTR {
		t.Fatalf("sleep with an interruption pending: %v, want EINTR", err)
	}
	e.t.ClearInterrupt()
	copy(e.bytesAt(req, 16), abi.Timespec{Nsec: 1e6}.Bytes())
	if _, err := e.call(Nanosleep, uint64(req), 0); err != nil {
		t.Fatalf("sleep after ClearInterrupt: %v", err)
	}
}

func TestClockSettimeIsRefused(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(ClockSettime, abi.CLOCK_REALTIME, uint64(testMemBase)); errnoOf(err) != abi.EPERM {
		t.Fatalf("clock_settime: %v, want EPERM", err)
	}
	if _, err := e.call(ClockSettime, 10, uint64(testMemBase)); errnoOf(err) != abi.EINVAL {
		t.Fatalf("clock_settime bad clock: %v, want EINVAL", err)
	}
}
