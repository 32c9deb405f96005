package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// family builds init(1) with children 2 and 3, and 4 a child of 2.
func family(t *testing.T, max int) *Tree {
	t.Helper()
	tr := NewTree(max, 1000)
	tr.NewInit("/init", nil, Leads{Group: true})
	for _, parent := range []int32{1, 1, 2} {
		if _, err := tr.Fork(parent, abi.SIGCHLD); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func hasNote(notes []Note, kind NoteKind, to int32) *Note {
	for i := range notes {
		if notes[i].Kind == kind && notes[i].To == to {
			return &notes[i]
		}
	}
	return nil
}

func TestPidsStartAtOneAndChildrenInheritGroupAndSession(t *testing.T) {
	tr := family(t, 0)
	p4, ok := tr.Get(4)
	if !ok || p4.Ppid != 2 || p4.Pgid != 1 {
		t.Fatalf("pid 4 = %+v, want ppid 2 pgid 1", p4)
	}
}

func TestExitMakesAZombieAndSignalsTheParent(t *testing.T) {
	tr := family(t, 0)
	notes := tr.Exit(3, 7<<8, abi.Rusage{})
	sig := hasNote(notes, NoteSignal, 1)
	if sig == nil || sig.Sig != abi.SIGCHLD || sig.Info.Code != abi.CLD_EXITED || sig.Info.Status() != 7 || sig.Info.Pid() != 3 {
		t.Fatalf("notes %+v: want SIGCHLD CLD_EXITED status 7 from 3 to 1", notes)
	}
	if hasNote(notes, NoteChildEvent, 1) == nil {
		t.Fatal("no child event for the parent")
	}
	if p, _ := tr.Get(3); p.State != Zombie {
		t.Fatalf("pid 3 state %v, want zombie", p.State)
	}
}

func TestSignalDeathReportsKilledOrDumped(t *testing.T) {
	tests := []struct {
		status uint32
		code   int32
		st     int32
	}{
		{9, abi.CLD_KILLED, 9},
		{11 | 0x80, abi.CLD_DUMPED, 11},
		{0, abi.CLD_EXITED, 0},
	}
	for _, tc := range tests {
		code, st := childCode(tc.status)
		if code != tc.code || st != tc.st {
			t.Errorf("childCode(%#x) = %d, %d; want %d, %d", tc.status, code, st, tc.code, tc.st)
		}
	}
}

func TestOrphansGoToInitOrTheNearestSubreaper(t *testing.T) {
	tests := []struct {
		name      string
		subreaper int32
		want      int32
	}{
		{"no subreaper: init adopts", 0, 1},
		{"init is the subreaper anyway", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := family(t, 0)
			if tc.subreaper != 0 {
				tr.SetSubreaper(tc.subreaper, true)
			}
			notes := tr.Exit(2, 0, abi.Rusage{})
			re := hasNote(notes, NoteReparent, 4)
			if re == nil || re.Ppid != tc.want {
				t.Fatalf("notes %+v: want reparent of 4 to %d", notes, tc.want)
			}
			if p, _ := tr.Get(4); p.Ppid != tc.want {
				t.Fatalf("ppid of 4 = %d", p.Ppid)
			}
		})
	}
	t.Run("a subreaper between", func(t *testing.T) {
		tr := family(t, 0)
		c, _ := tr.Fork(4, abi.SIGCHLD) // 5, child of 4, grandchild of 2
		tr.SetSubreaper(2, true)
		notes := tr.Exit(4, 0, abi.Rusage{})
		if re := hasNote(notes, NoteReparent, c); re == nil || re.Ppid != 2 {
			t.Fatalf("notes %+v: want %d reparented to subreaper 2", notes, c)
		}
	})
	t.Run("a zombie orphan is announced to the adopter", func(t *testing.T) {
		tr := family(t, 0)
		tr.Exit(4, 0, abi.Rusage{})
		notes := tr.Exit(2, 0, abi.Rusage{})
		if hasNote(notes, NoteChildEvent, 1) == nil || hasNote(notes, NoteSignal, 1) == nil {
			t.Fatalf("notes %+v: init must hear of the zombie it adopted", notes)
		}
		if r, err := tr.Wait(1, 4, abi.WEXITED); err != nil || r.Pid != 4 {
			t.Fatalf("init waits for adopted zombie: %+v, %v", r, err)
		}
	})
}

func TestWaitSelectsReapsAndReportsNothingYet(t *testing.T) {
	tr := family(t, 0)
	if _, err := tr.Wait(3, -1, abi.WEXITED); !errors.Is(err, abi.ECHILD) {
		t.Fatalf("childless wait: %v, want ECHILD", err)
	}
	if r, err := tr.Wait(1, -1, abi.WEXITED); err != nil || r.Pid != 0 {
		t.Fatalf("wait with running children: %+v, %v; want pid 0", r, err)
	}
	if _, err := tr.Wait(1, 4, abi.WEXITED); !errors.Is(err, abi.ECHILD) {
		t.Fatalf("wait for a grandchild: %v, want ECHILD", err)
	}
	tr.Exit(3, 2<<8, abi.Rusage{Maxrss: 5})
	r, err := tr.Wait(1, -1, abi.WEXITED|abi.WNOWAIT)
	if err != nil || r.Pid != 3 || r.Status != 2<<8 || r.Rusage.Maxrss != 5 {
		t.Fatalf("WNOWAIT: %+v, %v", r, err)
	}
	if r, _ := tr.Wait(1, 3, abi.WEXITED); r.Pid != 3 {
		t.Fatalf("zombie gone after WNOWAIT: %+v", r)
	}
	if _, err := tr.Wait(1, 3, abi.WEXITED); !errors.Is(err, abi.ECHILD) {
		t.Fatalf("reaped child still waitable: %v", err)
	}
}

func TestWaitByProcessGroup(t *testing.T) {
	tr := family(t, 0)
	if err := tr.Setpgid(1, 3, 3); err != nil {
		t.Fatal(err)
	}
	tr.Exit(2, 0, abi.Rusage{})
	tr.Exit(3, 0, abi.Rusage{})
	if r, _ := tr.Wait(1, -3, abi.WEXITED); r.Pid != 3 {
		t.Fatalf("wait(-3) = %+v, want 3", r)
	}
	if r, _ := tr.Wait(1, 0, abi.WEXITED); r.Pid != 2 {
		t.Fatalf("wait(0) = %+v, want 2 (caller's group)", r)
	}
}

func TestCloneChildrenNeedWCLONE(t *testing.T) {
	tr := NewTree(0, 0)
	tr.NewInit("/init", nil, Leads{Group: true})
	c, _ := tr.Fork(1, 0) // exit signal 0: a "clone" child
	tr.Exit(c, 0, abi.Rusage{})
	if _, err := tr.Wait(1, -1, abi.WEXITED); !errors.Is(err, abi.ECHILD) {
		t.Fatalf("plain wait saw a clone child: %v", err)
	}
	if r, _ := tr.Wait(1, -1, abi.WEXITED|abi.WALL); r.Pid != c {
		t.Fatalf("__WALL: %+v", r)
	}
}

func TestStopAndContinueAreReportedOnce(t *testing.T) {
	tr := family(t, 0)
	tr.Stopped(2, abi.SIGTSTP)
	if r, _ := tr.Wait(1, 2, abi.WEXITED); r.Pid != 0 {
		t.Fatalf("stop reported without WUNTRACED: %+v", r)
	}
	r, _ := tr.Wait(1, 2, abi.WEXITED|abi.WUNTRACED)
	if r.Pid != 2 || r.Status != abi.SIGTSTP<<8|0x7f {
		t.Fatalf("stop report %+v", r)
	}
	if r, _ := tr.Wait(1, 2, abi.WEXITED|abi.WUNTRACED); r.Pid != 0 {
		t.Fatalf("stop reported twice: %+v", r)
	}
	tr.Continued(2)
	if r, _ := tr.Wait(1, 2, abi.WEXITED|abi.WCONTINUED); r.Status != 0xffff {
		t.Fatalf("continue report %+v", r)
	}
}

func TestSetpgidFollowsLinuxRules(t *testing.T) {
	tests := []struct {
		name           string
		caller, pid, g int32
		prep           func(*Tree)
		want           error
	}{
		{"own group", 2, 0, 0, nil, nil},
		{"child into a new group", 1, 3, 3, nil, nil},
		{"not a child", 2, 3, 3, nil, abi.ESRCH},
		{"unknown pid", 1, 99, 99, nil, abi.ESRCH},
		{"group that does not exist", 1, 3, 42, nil, abi.EPERM},
		{"child that exec'ed", 1, 3, 3, func(t *Tree) { t.Execed(3, "/x", nil) }, abi.EACCES},
		{"session leader", 2, 0, 1, func(t *Tree) { t.Setsid(2) }, abi.EPERM},
		{"child in another session", 1, 2, 1, func(t *Tree) { t.Setsid(2) }, abi.EPERM},
		{"negative group", 1, 0, -1, nil, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := family(t, 0)
			if tc.prep != nil {
				tc.prep(tr)
			}
			err := tr.Setpgid(tc.caller, tc.pid, tc.g)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("Setpgid(%d, %d, %d) = %v, want %v", tc.caller, tc.pid, tc.g, err, tc.want)
			}
		})
	}
}

func TestSetsidMakesANewSessionUnlessGroupLeader(t *testing.T) {
	tr := family(t, 0)
	if _, err := tr.Setsid(1); !errors.Is(err, abi.EPERM) {
		t.Fatalf("group leader setsid: %v, want EPERM", err)
	}
	sid, err := tr.Setsid(2)
	if err != nil || sid != 2 {
		t.Fatalf("setsid = %d, %v", sid, err)
	}
	if g, _ := tr.Getpgid(1, 2); g != 2 {
		t.Fatalf("pgid after setsid = %d", g)
	}
	if s, _ := tr.Getsid(2, 0); s != 2 {
		t.Fatalf("sid after setsid = %d", s)
	}
	if _, err := tr.Getsid(1, 77); !errors.Is(err, abi.ESRCH) {
		t.Fatalf("getsid of nobody: %v", err)
	}
}

func TestKillTargets(t *testing.T) {
	tests := []struct {
		name        string
		caller, pid int32
		want        []int32
		err         error
	}{
		{"one process", 1, 3, []int32{3}, nil},
		{"missing", 1, 50, nil, abi.ESRCH},
		{"own group", 2, 0, []int32{1, 2, 3, 4}, nil},
		{"everyone but init and caller", 2, -1, []int32{3, 4}, nil},
		{"a group", 1, -1000, nil, abi.ESRCH},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := family(t, 0)
			got, err := tr.KillTargets(tc.caller, tc.pid)
			if !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("targets %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("targets %v, want %v", got, tc.want)
				}
			}
		})
	}
	t.Run("a zombie is found but not signalled", func(t *testing.T) {
		tr := family(t, 0)
		tr.Exit(3, 0, abi.Rusage{})
		got, err := tr.KillTargets(1, 3)
		if err != nil || len(got) != 0 {
			t.Fatalf("kill zombie: %v, %v", got, err)
		}
	})
}

func TestMaxProcsCountsZombiesAndFailsWithEAGAIN(t *testing.T) {
	tr := family(t, 4)
	if _, err := tr.Fork(1, abi.SIGCHLD); !errors.Is(err, abi.EAGAIN) {
		t.Fatalf("fork past the limit: %v, want EAGAIN", err)
	}
	tr.Exit(3, 0, abi.Rusage{})
	if _, err := tr.Fork(1, abi.SIGCHLD); !errors.Is(err, abi.EAGAIN) {
		t.Fatalf("a zombie must still count: %v", err)
	}
	tr.Wait(1, 3, abi.WEXITED)
	if _, err := tr.Fork(1, abi.SIGCHLD); err != nil {
		t.Fatalf("fork after reaping: %v", err)
	}
}

func TestReapDiscardsOnlyOwnZombies(t *testing.T) {
	tr := family(t, 0)
	tr.Exit(4, 0, abi.Rusage{})
	tr.Reap(1, 4) // not init's child
	if _, ok := tr.Get(4); !ok {
		t.Fatal("Reap removed another parent's zombie")
	}
	tr.Reap(2, 4)
	if _, ok := tr.Get(4); ok {
		t.Fatal("Reap left the zombie")
	}
}

// Pid 1 leads what elfuse's host process leads; a group or session led
// from outside reads as 0, as in a Linux PID namespace.
func TestInitLeadsWhatElfuseLeads(t *testing.T) {
	cases := []struct {
		leads         Leads
		pgid, sid     int32
		setsidAllowed bool
	}{
		{Leads{}, 0, 0, true},                            // a daemon's child
		{Leads{Group: true}, 1, 0, false},                // a shell's job
		{Leads{Group: true, Session: true}, 1, 1, false}, // setsid elfuse
	}
	for _, c := range cases {
		tr := NewTree(0, 1000)
		tr.NewInit("/init", nil, c.leads)
		pgid, _ := tr.Getpgid(1, 0)
		sid, _ := tr.Getsid(1, 0)
		if pgid != c.pgid || sid != c.sid {
			t.Errorf("%+v: getpgid %d getsid %d, want %d %d", c.leads, pgid, sid, c.pgid, c.sid)
		}
		child, _ := tr.Fork(1, abi.SIGCHLD)
		if cp, _ := tr.Getpgid(child, 0); cp != c.pgid {
			t.Errorf("%+v: child getpgid %d, want %d", c.leads, cp, c.pgid)
		}
		got, err := tr.Setsid(1)
		if c.setsidAllowed != (err == nil) || (err == nil && got != 1) {
			t.Errorf("%+v: setsid = %d, %v; allowed %v", c.leads, got, err, c.setsidAllowed)
		}
	}
}
