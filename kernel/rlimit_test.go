package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// putRlimit stores a struct rlimit64 in test memory.
func (e *procTestEnv) putRlimit(addr abi.Addr, cur, max uint64) {
	b := e.bytesAt(addr, 16)
	binary.LittleEndian.PutUint64(b, cur)
	binary.LittleEndian.PutUint64(b[8:], max)
}

func (e *procTestEnv) readRlimit(addr abi.Addr) abi.Rlimit {
	b := e.bytesAt(addr, 16)
	return abi.Rlimit{Cur: binary.LittleEndian.Uint64(b), Max: binary.LittleEndian.Uint64(b[8:])}
}

func TestGetrlimitIsTheHosts(t *testing.T) {
	e := newProcTestEnv(t)
	for res := 0; res < abi.RLIM_NLIMITS; res++ {
		if _, err := e.call(Getrlimit, uint64(res), uint64(testMemBase)); err != nil {
			t.Fatalf("resource %d: %v", res, err)
		}
		var h unix.Rlimit
		if err := unix.Getrlimit(res, &h); err != nil {
			t.Fatal(err)
		}
		got := e.readRlimit(testMemBase)
		if res == abi.RLIMIT_NOFILE {
			// The Go runtime may have raised its own soft limit.
			want := undoGoNofileRaise(abi.Rlimit{Cur: h.Cur, Max: h.Max})
			if got != want {
				t.Errorf("NOFILE = %+v, want %+v (host %+v)", got, want, h)
			}
			continue
		}
		if got.Cur != h.Cur || got.Max != h.Max {
			t.Errorf("resource %d = %+v, host %+v", res, got, h)
		}
	}
}

func TestPrlimit64(t *testing.T) {
	const inf = abi.RLIM_INFINITY
	tests := []struct {
		name     string
		euid     uint32
		start    abi.Rlimit
		res      uint64
		pid      uint64
		newLim   *abi.Rlimit
		wantErr  abi.Errno
		wantOld  abi.Rlimit
		wantNow  abi.Rlimit
		checkOld bool
	}{
		{name: "query own", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_CORE,
			wantOld: abi.Rlimit{Cur: 10, Max: 20}, wantNow: abi.Rlimit{Cur: 10, Max: 20}, checkOld: true},
		{name: "query by own pid", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_CORE, pid: 1,
			wantOld: abi.Rlimit{Cur: 10, Max: 20}, wantNow: abi.Rlimit{Cur: 10, Max: 20}, checkOld: true},
		{name: "other pid without a tree to ask is ESRCH", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_CORE, pid: 2,
			wantErr: abi.ESRCH, wantNow: abi.Rlimit{Cur: 10, Max: 20}},
		{name: "unknown resource is EINVAL", euid: 1000, res: abi.RLIM_NLIMITS, wantErr: abi.EINVAL},
		{name: "lower both, old returned", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_STACK,
			newLim: &abi.Rlimit{Cur: 5, Max: 15}, wantOld: abi.Rlimit{Cur: 10, Max: 20},
			wantNow: abi.Rlimit{Cur: 5, Max: 15}, checkOld: true},
		{name: "soft above hard is EINVAL", euid: 0, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_STACK,
			newLim: &abi.Rlimit{Cur: 30, Max: 25}, wantErr: abi.EINVAL, wantNow: abi.Rlimit{Cur: 10, Max: 20}},
		{name: "user raising hard is EPERM", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_STACK,
			newLim: &abi.Rlimit{Cur: 10, Max: 21}, wantErr: abi.EPERM, wantNow: abi.Rlimit{Cur: 10, Max: 20}},
		{name: "root raising hard", euid: 0, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_STACK,
			newLim: &abi.Rlimit{Cur: inf, Max: inf}, wantNow: abi.Rlimit{Cur: inf, Max: inf}},
		{name: "user raising soft up to hard", euid: 1000, start: abi.Rlimit{Cur: 10, Max: 20}, res: abi.RLIMIT_NOFILE,
			newLim: &abi.Rlimit{Cur: 20, Max: 20}, wantNow: abi.Rlimit{Cur: 20, Max: 20}},
		{name: "NOFILE above nr_open is EPERM even for root", euid: 0, start: abi.Rlimit{Cur: 10, Max: 20},
			res: abi.RLIMIT_NOFILE, newLim: &abi.Rlimit{Cur: 10, Max: inf}, wantErr: abi.EPERM,
			wantNow: abi.Rlimit{Cur: 10, Max: 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			st := ProcState{Creds: Creds{EUID: tc.euid}}
			if tc.euid == 0 {
				st.Creds.Caps = rootCaps
			}
			if tc.res < abi.RLIM_NLIMITS {
				st.Rlimits[tc.res] = tc.start
			}
			e.t.Proc.SetState(st)
			newAddr, oldAddr := uint64(0), testMemBase+0x100
			if tc.newLim != nil {
				newAddr = uint64(testMemBase)
				e.putRlimit(testMemBase, tc.newLim.Cur, tc.newLim.Max)
			}
			e.putRlimit(oldAddr, 0xdead, 0xbeef)
			_, err := e.call(Prlimit64, tc.pid, tc.res, newAddr, uint64(oldAddr))
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
			if tc.checkOld {
				if got := e.readRlimit(oldAddr); got != tc.wantOld {
					t.Errorf("old = %+v, want %+v", got, tc.wantOld)
				}
			}
			if tc.res < abi.RLIM_NLIMITS {
				if got := e.t.Proc.Rlimit(int(tc.res)); got != tc.wantNow {
					t.Errorf("limit now %+v, want %+v", got, tc.wantNow)
				}
			}
		})
	}
}

func TestSetrlimitAndGetrlimitRoundTrip(t *testing.T) {
	e := newProcTestEnv(t)
	cur := e.t.Proc.Rlimit(abi.RLIMIT_CORE)
	e.putRlimit(testMemBase, 0, cur.Max)
	if _, err := e.call(Setrlimit, abi.RLIMIT_CORE, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Getrlimit, abi.RLIMIT_CORE, uint64(testMemBase+0x100)); err != nil {
		t.Fatal(err)
	}
	if got := e.readRlimit(testMemBase + 0x100); got.Cur != 0 || got.Max != cur.Max {
		t.Fatalf("after setrlimit: %+v", got)
	}
	if _, err := e.call(Setrlimit, abi.RLIMIT_CORE, uint64(testBadAddr)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("setrlimit(bad): %v, want EFAULT", err)
	}
	if _, err := e.call(Getrlimit, abi.RLIMIT_CORE, uint64(testBadAddr)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("getrlimit(bad): %v, want EFAULT", err)
	}
	if _, err := e.call(Prlimit64, 0, abi.RLIMIT_CORE, uint64(testBadAddr), 0); errnoOf(err) != abi.EFAULT {
		t.Fatalf("prlimit64(bad new): %v, want EFAULT", err)
	}
}

func TestRlimitAccessorOfUnknownResourceIsUnlimited(t *testing.T) {
	e := newProcTestEnv(t)
	if got := e.t.Proc.Rlimit(99); got.Cur != abi.RLIM_INFINITY || got.Max != abi.RLIM_INFINITY {
		t.Fatalf("Rlimit(99) = %+v", got)
	}
}

func TestUndoGoNofileRaise(t *testing.T) {
	const inf = abi.RLIM_INFINITY
	tests := []struct {
		name string
		in   abi.Rlimit
		want abi.Rlimit
	}{
		{"Go's raise to hard-1 reads as Linux's default", abi.Rlimit{Cur: 524287, Max: 524288}, abi.Rlimit{Cur: 1024, Max: 524288}},
		{"soft equal to hard is the user's", abi.Rlimit{Cur: 20000, Max: 20000}, abi.Rlimit{Cur: 20000, Max: 20000}},
		{"a lower soft limit is the user's", abi.Rlimit{Cur: 4096, Max: 524288}, abi.Rlimit{Cur: 4096, Max: 524288}},
		{"a small hard limit is kept", abi.Rlimit{Cur: 99, Max: 100}, abi.Rlimit{Cur: 99, Max: 100}},
		{"unlimited stays", abi.Rlimit{Cur: inf, Max: inf}, abi.Rlimit{Cur: inf, Max: inf}},
	}
	for _, tc := range tests {
		if got := undoGoNofileRaise(tc.in); got != tc.want {
			t.Errorf("%s: %+v -> %+v, want %+v", tc.name, tc.in, got, tc.want)
		}
	}
}

// PrlimitFrom makes Linux's check_prlimit_permission against its caller:
// all of the target's ids must be the caller's real ones, or the caller
// needs CAP_SYS_RESOURCE, which raising a hard limit needs too.
func TestPrlimitFromChecksTheCaller(t *testing.T) {
	ids := func(u, g uint32) Creds { return Creds{RUID: u, EUID: u, SUID: u, RGID: g, EGID: g, SGID: g} }
	tests := []struct {
		name    string
		target  Creds
		caller  PrlimitCaller
		newLim  *abi.Rlimit
		wantErr abi.Errno
	}{
		{"same ids read", ids(1000, 1000), PrlimitCaller{UID: 1000, GID: 1000}, nil, 0},
		{"same ids lower", ids(1000, 1000), PrlimitCaller{UID: 1000, GID: 1000}, &abi.Rlimit{Cur: 5, Max: 15}, 0},
		{"same ids raise hard", ids(1000, 1000), PrlimitCaller{UID: 1000, GID: 1000}, &abi.Rlimit{Cur: 5, Max: 30}, abi.EPERM},
		{"other uid", ids(0, 0), PrlimitCaller{UID: 1000, GID: 0}, nil, abi.EPERM},
		{"other gid", ids(1000, 1000), PrlimitCaller{UID: 1000, GID: 1001}, nil, abi.EPERM},
		{"target's saved uid differs", Creds{RUID: 1000, EUID: 1000, SUID: 0, RGID: 1, EGID: 1, SGID: 1},
			PrlimitCaller{UID: 1000, GID: 1}, nil, abi.EPERM},
		{"CAP_SYS_RESOURCE reads another's", ids(0, 0), PrlimitCaller{UID: 1000, GID: 1000, SysResource: true}, nil, 0},
		{"CAP_SYS_RESOURCE raises hard", ids(0, 0), PrlimitCaller{UID: 1000, SysResource: true}, &abi.Rlimit{Cur: 5, Max: 30}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			st := ProcState{Creds: tc.target}
			st.Rlimits[abi.RLIMIT_STACK] = abi.Rlimit{Cur: 10, Max: 20}
			e.t.Proc.SetState(st)
			old, err := e.t.Proc.PrlimitFrom(abi.RLIMIT_STACK, tc.newLim, tc.caller)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("PrlimitFrom: %v, want errno %d", err, tc.wantErr)
			}
			want := abi.Rlimit{Cur: 10, Max: 20}
			if err == nil && old != want {
				t.Errorf("old limit %+v, want %+v", old, want)
			}
			if err == nil && tc.newLim != nil {
				want = *tc.newLim
			}
			if now := e.t.Proc.Rlimit(abi.RLIMIT_STACK); now != want {
				t.Errorf("limit now %+v, want %+v", now, want)
			}
		})
	}
}
