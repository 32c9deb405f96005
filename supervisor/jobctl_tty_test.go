package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestTTYAccessAppliesTtyCheckChange(t *testing.T) {
	// family: 1 (leads group 1, in the outside session) → 2, 3; 2 → 4.
	// The terminal's session is the outside one, its foreground group 1
	// unless a case moves it.
	tests := []struct {
		name    string
		prep    func(*Tree)
		pid     int32
		fg      int32
		sig     int32
		ignored bool
		want    TTYVerdict
	}{
		{"foreground member reads", nil, 2, 1, abi.SIGTTIN, false, TTYGoAhead},
		{"background group reads", func(tr *Tree) { tr.Setpgid(2, 2, 2) }, 2, 1, abi.SIGTTIN, false, TTYSignal},
		{"background group writes with TOSTOP", func(tr *Tree) { tr.Setpgid(2, 2, 2) }, 2, 1, abi.SIGTTOU, false, TTYSignal},
		{"foreground moved to the job: the shell is background", func(tr *Tree) { tr.Setpgid(2, 2, 2) }, 1, 2, abi.SIGTTOU, false, TTYSignal},
		{"ignored SIGTTIN fails the read", func(tr *Tree) { tr.Setpgid(2, 2, 2) }, 2, 1, abi.SIGTTIN, true, TTYFail},
		{"ignored SIGTTOU lets the write go ahead", func(tr *Tree) { tr.Setpgid(2, 2, 2) }, 2, 1, abi.SIGTTOU, true, TTYGoAhead},
		{"member of a background group linked through its parent", func(tr *Tree) {
			tr.Setpgid(2, 2, 2)
			tr.Setpgid(4, 4, 2) // 4's parent 2 is in group 2, 2's parent 1 links it
		}, 4, 1, abi.SIGTTIN, false, TTYSignal},
		{"a process that left the session by setsid has no controlling terminal", func(tr *Tree) { tr.Setsid(3) }, 3, 1, abi.SIGTTIN, false, TTYGoAhead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := family(t, 0)
			if tc.prep != nil {
				tc.prep(tr)
			}
			got, err := tr.TTYAccess(tc.pid, OutsideSession, tc.fg, tc.sig, tc.ignored, func() bool { return true })
			if err != nil || got != tc.want {
				t.Errorf("verdict %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestTTYAccessFailsInAnOrphanedGroup(t *testing.T) {
	// A session leader's own group has no link outside: its background
	// access fails instead of stopping it for good.
	tr := family(t, 0)
	if _, err := tr.Setsid(3); err != nil {
		t.Fatal(err)
	}
	c, err := tr.Fork(3, abi.SIGCHLD)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.TTYAccess(c, 3, 0, abi.SIGTTIN, false, func() bool { return true })
	if err != nil || got != TTYFail {
		t.Errorf("verdict %d, %v; want %d", got, err, TTYFail)
	}
}

func TestTTYAccessAsksTheHostAboutElfusesOwnGroup(t *testing.T) {
	for _, orphaned := range []bool{false, true} {
		tr := NewTree(0, 1000)
		tr.NewInit("/init", nil, Leads{}) // elfuse leads nothing
		c, _ := tr.Fork(1, abi.SIGCHLD)
		want := TTYSignal
		if orphaned {
			want = TTYFail
		}
		asked := false
		got, err := tr.TTYAccess(c, OutsideSession, 7, abi.SIGTTIN, false, hostAnswer(orphaned, &asked))
		if err != nil || got != want || !asked {
			t.Errorf("host orphaned=%v: verdict %d, %v, asked %v; want %d", orphaned, got, err, asked, want)
		}
	}
}

func TestTTYAccessUnknownProcess(t *testing.T) {
	tr := family(t, 0)
	if _, err := tr.TTYAccess(99, OutsideSession, 1, abi.SIGTTIN, false, nil); !errors.Is(err, abi.ESRCH) {
		t.Errorf("err %v, want ESRCH", err)
	}
}
