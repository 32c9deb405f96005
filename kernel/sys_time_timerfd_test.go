package kernel

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// openFDs counts the host process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestTimerfdArgumentErrors(t *testing.T) {
	tests := []struct {
		name    string
		fn      SyscallFn
		args    []uint64
		its     abi.Timespec
		wantErr abi.Errno
	}{
		{"create with an unknown flag", TimerfdCreate, []uint64{abi.CLOCK_MONOTONIC, 1}, abi.Timespec{}, abi.EINVAL},
		{"create on a CPU clock", TimerfdCreate, []uint64{abi.CLOCK_PROCESS_CPUTIME_ID, 0}, abi.Timespec{}, abi.EINVAL},
		{"create on MONOTONIC_RAW", TimerfdCreate, []uint64{abi.CLOCK_MONOTONIC_RAW, 0}, abi.Timespec{}, abi.EINVAL},
		{"settime with an unknown flag", TimerfdSettime, []uint64{3, 4, uint64(testMemBase), 0}, abi.Timespec{}, abi.EINVAL},
		{"settime with a bad value", TimerfdSettime, []uint64{3, 0, uint64(testMemBase), 0}, abi.Timespec{Nsec: 1e9}, abi.EINVAL},
		{"settime with an unmapped value", TimerfdSettime, []uint64{3, 0, uint64(testBadAddr), 0}, abi.Timespec{}, abi.EFAULT},
		{"settime on a closed descriptor", TimerfdSettime, []uint64{999, 0, uint64(testMemBase), 0}, abi.Timespec{}, abi.EBADF},
		{"gettime on a closed descriptor", TimerfdGettime, []uint64{999, uint64(testMemBase)}, abi.Timespec{}, abi.EBADF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.t.Proc.FDs = NewFDTable()
			copy(e.bytesAt(testMemBase+abi.SizeofTimespec, 16), tc.its.Bytes())
			if _, err := e.call(tc.fn, tc.args...); errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestTimerfdCreateClosesTheHostFDWhenTheTableIsFull(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.FDs = NewFDTable()
	e.t.Proc.FDs.SetLimit(3) // 0, 1 and 2 are taken
	before := openFDs(t)
	if _, err := e.call(TimerfdCreate, abi.CLOCK_MONOTONIC, 0); errnoOf(err) != abi.EMFILE {
		t.Fatalf("got %v, want EMFILE", err)
	}
	if after := openFDs(t); after != before {
		t.Fatalf("%d host descriptors before, %d after: the timerfd leaked", before, after)
	}
}

// requireFDTable skips when kernel/fd.go is still the placeholder without a
// working descriptor table.
func requireFDTable(t *testing.T) *FDTable {
	t.Helper()
	f := NewFDTable()
	if _, err := f.Get(0); err != nil {
		t.Skip("descriptor table is the placeholder stub; needs the files helper's FDTable")
	}
	return f
}

func TestTimerfdExpiresAndReportsItsSetting(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.FDs = requireFDTable(t)
	fd, err := e.call(TimerfdCreate, abi.CLOCK_MONOTONIC, abi.TFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	hfd, err := e.t.Proc.FDs.Get(int32(fd))
	if err != nil {
		t.Fatal(err)
	}
	// Not CloseAll: the table's 0, 1 and 2 are the test binary's own.
	defer unix.Close(hfd)
	its := append(abi.Timespec{Nsec: 10e6}.Bytes(), abi.Timespec{Nsec: 20e6}.Bytes()...)
	copy(e.bytesAt(testMemBase, len(its)), its)
	if _, err := e.call(TimerfdSettime, fd, 0, uint64(testMemBase), uint64(testMemBase+0x40)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(TimerfdGettime, fd, uint64(testMemBase+0x80)); err != nil {
		t.Fatal(err)
	}
	interval := abi.TimespecFromBytes(e.bytesAt(testMemBase+0x80, 16))
	value := abi.TimespecFromBytes(e.bytesAt(testMemBase+0x90, 16))
	if interval.Nsec != 10e6 || value.Nanoseconds() <= 0 || value.Nanoseconds() > 20e6 {
		t.Fatalf("gettime: interval %+v value %+v", interval, value)
	}
	time.Sleep(35 * time.Millisecond)
	var buf [8]byte
	if _, err := unix.Read(hfd, buf[:]); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf[:]); n < 1 {
		t.Fatalf("%d expirations", n)
	}
}
