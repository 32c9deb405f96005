package kernel

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

func TestThreadCarriesTheGuestsFSIdsAndEffectiveSet(t *testing.T) {
	// A host whose permitted set lacks CAP_SYS_RESOURCE, as this
	// project's CI containers do.
	h := &hostIdentity{perm: capValid &^ (1 << abi.CAP_SYS_RESOURCE), enabled: true}
	all := Caps{Effective: capValid, Permitted: capValid}
	tests := []struct {
		name       string
		c          Creds
		files, acc threadCreds
	}{
		{"root keeps what the host may hold",
			Creds{Groups: []uint32{0, 10}, Caps: all},
			threadCreds{groups: []uint32{0, 10}, eff: h.perm},
			threadCreds{groups: []uint32{0, 10}, eff: h.perm}},
		{"setuid away from root: the ids, no capability",
			Creds{RUID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000, RGID: 100, EGID: 100, SGID: 100, FSGID: 100},
			threadCreds{fsuid: 1000, fsgid: 100},
			threadCreds{fsuid: 1000, fsgid: 100}},
		{"root without some effective capabilities: access() uses the permitted set",
			Creds{Caps: Caps{Effective: capValid &^ capFSMask, Permitted: capValid}},
			threadCreds{eff: h.perm &^ capFSMask},
			threadCreds{eff: h.perm}},
		{"root without them in the permitted set either",
			Creds{Caps: Caps{Effective: capValid &^ capFSMask, Permitted: capValid &^ capFSMask}},
			threadCreds{eff: h.perm &^ capFSMask},
			threadCreds{eff: h.perm &^ capFSMask}},
		{"setfsuid alone: files with the fsuid, access() with the real uid",
			Creds{FSUID: 1000, FSGID: 1000, Caps: Caps{Effective: capValid &^ capFSMask, Permitted: capValid}},
			threadCreds{fsuid: 1000, fsgid: 1000, eff: h.perm &^ capFSMask},
			threadCreds{eff: h.perm}},
		{"euid 0 over a real uid: access() drops every capability",
			Creds{RUID: 1000, SUID: 1000, RGID: 1000, Caps: all},
			threadCreds{eff: h.perm},
			threadCreds{fsuid: 1000, fsgid: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.forFiles(&tc.c); !got.equal(&tc.files) {
				t.Errorf("files: %+v, want %+v", got, tc.files)
			}
			if got := h.forAccess(&tc.c); !got.equal(&tc.acc) {
				t.Errorf("access: %+v, want %+v", got, tc.acc)
			}
		})
	}
}

func TestEveryCredentialChangeTellsTheThreads(t *testing.T) {
	e := newProcTestEnv(t)
	p := e.t.Proc
	p.SetState(ProcState{Creds: Creds{Caps: Caps{Effective: capValid, Permitted: capValid}}})
	changes := []struct {
		name string
		do   func()
	}{
		{"setfsuid", func() { e.call(Setfsuid, 1000) }},
		{"setresgid", func() { e.call(Setresgid, 5, 5, 5) }},
		{"setuid", func() { e.call(Setuid, 1000) }},
		{"exec", func() { p.ResetForExec() }},
		{"fork state", func() { p.SetState(ProcState{}) }},
	}
	for _, c := range changes {
		before := p.credGen.Load()
		c.do()
		if p.credGen.Load() == before {
			t.Errorf("%s: credentials generation unchanged", c.name)
		}
	}
}

// threadStatus returns the Uid, Gid, Groups and CapEff lines of the calling
// thread's /proc status.
func threadStatus(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapEff:"} {
			if strings.HasPrefix(l, k) {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return strings.Join(out, "; ")
}

// TestGuestCredentialsStayOnTheirThread gives a locked thread a guest's
// credentials: only that thread carries them, its parent-death signal
// and the process's dumpable flag survive, asHost and the end of Run give
// elfuse's back.
func TestGuestCredentialsStayOnTheirThread(t *testing.T) {
	h := theHostIdentity()
	if !h.enabled {
		t.Skip("not privileged (CAP_SETUID and CAP_SETGID): the host keeps its credentials")
	}
	hostStatus := threadStatus(t)
	p := &Process{Kernel: &Kernel{Config: Config{Log: hclog.NewNullLogger()}}}
	p.SetState(ProcState{Creds: Creds{RUID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000,
		RGID: 1000, EGID: 1000, SGID: 1000, FSGID: 1000, Groups: []uint32{1000, 1001}}})
	task := &Task{Proc: p, Log: p.Kernel.Log}
	type seen struct{ guest, inAsHost, after, pdeath string }
	done := make(chan seen)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		var s seen
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGUSR2), 0, 0, 0)
		task.startCreds()
		s.guest = threadStatus(t)
		task.asHost(func() error { s.inAsHost = threadStatus(t); return nil })
		if sig := threadPdeathsig(); sig != int(unix.SIGUSR2) {
			s.pdeath = "parent-death signal " + unix.SignalName(unix.Signal(sig))
		}
		task.dropCreds()
		s.after = threadStatus(t)
		unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
		done <- s
	}()
	s := <-done
	const want = "Uid: 0 0 0 1000; Gid: 0 0 0 1000; Groups: 1000 1001; CapEff: 0000000000000000"
	if s.guest != want {
		t.Errorf("guest thread: %s, want %s", s.guest, want)
	}
	if other := threadStatus(t); other != hostStatus {
		t.Errorf("another thread: %s, want elfuse's %s", other, hostStatus)
	}
	if s.inAsHost != hostStatus || s.after != hostStatus {
		t.Errorf("asHost: %s; after Run: %s; want elfuse's %s", s.inAsHost, s.after, hostStatus)
	}
	if s.pdeath != "" {
		t.Error(s.pdeath)
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); h.dumpable && d != 1 {
		t.Errorf("dumpable %d after a thread's fs ids changed", d)
	}
}
