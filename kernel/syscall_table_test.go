package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestSyscallTableEntriesAreConsistent(t *testing.T) {
	tab := Table()
	if len(tab) == 0 {
		t.Fatal("syscall table is empty")
	}
	seen := map[string]uint64{}
	for nr, s := range tab {
		if want := abi.SyscallName(nr); s.Name != want {
			t.Errorf("entry %d is named %q, Linux calls it %q", nr, s.Name, want)
		}
		if prev, dup := seen[s.Name]; dup {
			t.Errorf("name %q used by %d and %d", s.Name, prev, nr)
		}
		seen[s.Name] = nr
		if s.Fn == nil {
			t.Errorf("%s (%d) has no handler", s.Name, nr)
		}
		switch s.Support {
		case Full:
		case Partial, Stub:
			if s.Note == "" {
				t.Errorf("%s (%d) is Partial/Stub without a Note saying what is missing", s.Name, nr)
			}
		default:
			t.Errorf("%s (%d) has unknown support level %d", s.Name, nr, s.Support)
		}
	}
}

func TestSyscallTableHoldsThisPackagesSyscalls(t *testing.T) {
	tab := Table()
	for _, nr := range []uint64{
		abi.SYS_GETPID, abi.SYS_UNAME, abi.SYS_CLOCK_GETTIME, abi.SYS_NANOSLEEP, abi.SYS_FUTEX,
		abi.SYS_ARCH_PRCTL, abi.SYS_PRCTL, abi.SYS_PRLIMIT64, abi.SYS_EXIT_GROUP, abi.SYS_GETRANDOM,
		abi.SYS_SCHED_GETAFFINITY, abi.SYS_SET_TID_ADDRESS, abi.SYS_RSEQ,
	} {
		if _, ok := tab[nr]; !ok {
			t.Errorf("%s (%d) missing from the table", abi.SyscallName(nr), nr)
		}
	}
}

func TestDispatcherReturnsENOSYS(t *testing.T) {
	tests := []struct {
		name string
		nr   uint64
	}{
		{"rseq is refused", abi.SYS_RSEQ},
		{"number outside the table", 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			r := e.cpu.Regs()
			r.RAX, r.RDI, r.RSI = tc.nr, uint64(testMemBase), 32
			e.t.Syscall()
			if got := r.RAX; got != negErrno(abi.ENOSYS) {
				t.Fatalf("rax = %#x, want -ENOSYS (%#x)", got, negErrno(abi.ENOSYS))
			}
			if e.t.OrigRAX != tc.nr {
				t.Errorf("OrigRAX = %d, want %d", e.t.OrigRAX, tc.nr)
			}
		})
	}
}

func TestDispatcherWritesHandlerResult(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Tid = 42
	r := e.cpu.Regs()
	r.RAX = abi.SYS_GETTID
	e.t.Syscall()
	if r.RAX != 42 {
		t.Fatalf("gettid through the dispatcher: rax = %d, want 42", r.RAX)
	}
}
