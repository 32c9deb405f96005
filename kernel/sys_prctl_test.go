package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// getName runs PR_GET_NAME and returns the name up to its NUL.
func (e *procTestEnv) getName(t *testing.T) string {
	t.Helper()
	if _, err := e.call(Prctl, abi.PR_GET_NAME, uint64(testMemBase+0x800)); err != nil {
		t.Fatal(err)
	}
	b := e.bytesAt(testMemBase+0x800, abi.TASK_COMM_LEN)
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	t.Fatalf("PR_GET_NAME wrote no NUL: %q", b)
	return ""
}

func TestPrctlName(t *testing.T) {
	e := newProcTestEnv(t)
	if got := e.getName(t); got != "a-rather-long-p" {
		t.Fatalf("default name %q, want the exe basename cut to 15 bytes", got)
	}
	tests := []struct {
		name    string
		addr    abi.Addr
		input   string
		want    string
		wantErr abi.Errno
	}{
		{"short name", testMemBase, "worker\x00", "worker", 0},
		{"long name is cut to 15 bytes", testMemBase, "0123456789abcdefghij\x00", "0123456789abcde", 0},
		{"name ending at the end of memory", testMemEnd - 4, "abc\x00", "abc", 0},
		{"unterminated name running off memory is EFAULT", testMemEnd - 3, "xyz", "abc", abi.EFAULT},
		{"bad pointer is EFAULT", testBadAddr, "", "abc", abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr != testBadAddr {
				copy(e.bytesAt(tc.addr, len(tc.input)), tc.input)
			}
			_, err := e.call(Prctl, abi.PR_SET_NAME, uint64(tc.addr))
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("PR_SET_NAME: %v, want errno %d", err, tc.wantErr)
			}
			if got := e.getName(t); got != tc.want {
				t.Fatalf("name %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrctlFlags(t *testing.T) {
	e := newProcTestEnv(t)
	out := uint64(testMemBase + 0x100)
	readInt := func() uint32 { return binary.LittleEndian.Uint32(e.bytesAt(testMemBase+0x100, 4)) }
	steps := []struct {
		name    string
		args    []uint64
		want    uint64
		wantErr abi.Errno
		check   func() bool
	}{
		{"dumpable by default", []uint64{abi.PR_GET_DUMPABLE}, 1, 0, nil},
		{"set dumpable 0", []uint64{abi.PR_SET_DUMPABLE, 0}, 0, 0, nil},
		{"dumpable reads 0", []uint64{abi.PR_GET_DUMPABLE}, 0, 0, nil},
		{"set dumpable 2 is EINVAL", []uint64{abi.PR_SET_DUMPABLE, 2}, 0, abi.EINVAL, nil},
		{"set pdeathsig", []uint64{abi.PR_SET_PDEATHSIG, 9}, 0, 0, nil},
		{"get pdeathsig", []uint64{abi.PR_GET_PDEATHSIG, out}, 0, 0, func() bool { return readInt() == 9 }},
		{"pdeathsig beyond 64 is EINVAL", []uint64{abi.PR_SET_PDEATHSIG, 65}, 0, abi.EINVAL, nil},
		{"subreaper off by default", []uint64{abi.PR_GET_CHILD_SUBREAPER, out}, 0, 0, func() bool { return readInt() == 0 }},
		{"set subreaper", []uint64{abi.PR_SET_CHILD_SUBREAPER, 1}, 0, 0, func() bool { return e.t.Proc.State().ChildSubreaper }},
		{"get subreaper", []uint64{abi.PR_GET_CHILD_SUBREAPER, out}, 0, 0, func() bool { return readInt() == 1 }},
		{"seccomp is off", []uint64{abi.PR_GET_SECCOMP}, 0, 0, nil},
		{"no_new_privs off", []uint64{abi.PR_GET_NO_NEW_PRIVS}, 0, 0, nil},
		{"no_new_privs needs 1", []uint64{abi.PR_SET_NO_NEW_PRIVS, 2}, 0, abi.EINVAL, nil},
		{"no_new_privs set", []uint64{abi.PR_SET_NO_NEW_PRIVS, 1}, 0, 0, nil},
		{"no_new_privs on", []uint64{abi.PR_GET_NO_NEW_PRIVS}, 1, 0, nil},
		{"get no_new_privs with junk args is EINVAL", []uint64{abi.PR_GET_NO_NEW_PRIVS, 1}, 0, abi.EINVAL, nil},
		{"timerslack default", []uint64{abi.PR_GET_TIMERSLACK}, defaultTimerSlackNs, 0, nil},
		{"keepcaps set", []uint64{abi.PR_SET_KEEPCAPS, 1}, 0, 0, nil},
		{"keepcaps get", []uint64{abi.PR_GET_KEEPCAPS}, 1, 0, nil},
		{"securebits show keepcaps", []uint64{abi.PR_GET_SECUREBITS}, abi.SECBIT_KEEP_CAPS, 0, nil},
		{"PR_SET_VMA is accepted", []uint64{abi.PR_SET_VMA, 0, uint64(testMemBase), 4096, 0}, 0, 0, nil},
		{"ambient raise is EPERM", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_RAISE, 0}, 0, abi.EPERM, nil},
		{"ambient is_set is 0", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_IS_SET, 0}, 0, 0, nil},
		{"capbset of an unknown cap is EINVAL", []uint64{abi.PR_CAPBSET_READ, abi.CAP_LAST_CAP + 1}, 0, abi.EINVAL, nil},
		{"unknown option is EINVAL", []uint64{9999}, 0, abi.EINVAL, nil},
	}
	for _, s := range steps {
		got, err := e.call(Prctl, s.args...)
		if errnoOf(err) != s.wantErr || got != s.want {
			t.Fatalf("%s: got %d, %v; want %d, errno %d", s.name, got, err, s.want, s.wantErr)
		}
		if s.check != nil && !s.check() {
			t.Fatalf("%s: state check failed", s.name)
		}
	}
	fork := e.t.Proc.ForkState()
	if fork.PdeathSig != 0 || fork.ChildSubreaper || !fork.NoNewPrivs {
		t.Fatalf("fork state %+v: pdeathsig and subreaper must clear, no_new_privs stay", fork)
	}
}

func TestPrctlCapbsetReadIsTheHosts(t *testing.T) {
	e := newProcTestEnv(t)
	for _, c := range []uint64{0, 7, 21, 40} {
		want, herr := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		got, err := e.call(Prctl, abi.PR_CAPBSET_READ, c)
		if errnoOf(err) != errnoOf(herr) || (err == nil && int(got) != want) {
			t.Errorf("cap %d: got %d, %v; host %d, %v", c, got, err, want, herr)
		}
	}
}

func TestResetForExecRenamesAndMakesDumpable(t *testing.T) {
	e := newProcTestEnv(t)
	copy(e.bytesAt(testMemBase, 6), "thing\x00")
	if _, err := e.call(Prctl, abi.PR_SET_NAME, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Prctl, abi.PR_SET_DUMPABLE, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Prctl, abi.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		t.Fatal(err)
	}
	e.t.Proc.Exe = "/bin/true"
	e.t.Proc.ResetForExec()
	if got := e.getName(t); got != "true" {
		t.Errorf("name after exec %q, want the new image's basename", got)
	}
	if got, _ := e.call(Prctl, abi.PR_GET_DUMPABLE); got != 1 {
		t.Errorf("dumpable after exec %d, want 1", got)
	}
	if got, _ := e.call(Prctl, abi.PR_GET_NO_NEW_PRIVS); got != 1 {
		t.Errorf("no_new_privs after exec %d, want it kept", got)
	}
}

// TestPrctlSecurebits: PR_SET_SECUREBITS needs CAP_SETPCAP, takes only the
// keep-caps bit (the others are not implemented and refused, not
// pretended), and PR_GET_SECUREBITS shows it as PR_SET_KEEPCAPS set it.
func TestPrctlSecurebits(t *testing.T) {
	e := newProcTestEnv(t)
	st := e.t.Proc.State()
	st.Creds.Caps.Effective |= 1 << abi.CAP_SETPCAP
	e.t.Proc.SetState(st)
	steps := []struct {
		name    string
		args    []uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"none at first", []uint64{abi.PR_GET_SECUREBITS}, 0, 0},
		{"set keep-caps", []uint64{abi.PR_SET_SECUREBITS, abi.SECBIT_KEEP_CAPS}, 0, 0},
		{"keepcaps follows", []uint64{abi.PR_GET_KEEPCAPS}, 1, 0},
		{"noroot is refused", []uint64{abi.PR_SET_SECUREBITS, 1}, 0, abi.EINVAL},
		{"still keep-caps", []uint64{abi.PR_GET_SECUREBITS}, abi.SECBIT_KEEP_CAPS, 0},
		{"clear", []uint64{abi.PR_SET_SECUREBITS, 0}, 0, 0},
		{"cleared", []uint64{abi.PR_GET_KEEPCAPS}, 0, 0},
	}
	for _, s := range steps {
		got, err := e.call(Prctl, s.args...)
		if errnoOf(err) != s.wantErr || got != s.want {
			t.Fatalf("%s: got %d, %v; want %d, errno %d", s.name, got, err, s.want, s.wantErr)
		}
	}
	st = e.t.Proc.State()
	st.Creds.Caps.Effective &^= 1 << abi.CAP_SETPCAP
	e.t.Proc.SetState(st)
	if _, err := e.call(Prctl, abi.PR_SET_SECUREBITS, abi.SECBIT_KEEP_CAPS); errnoOf(err) != abi.EPERM {
		t.Fatalf("PR_SET_SECUREBITS without CAP_SETPCAP: %v, want EPERM", err)
	}
}
