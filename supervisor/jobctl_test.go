package supervisor

import (
	"errors"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func hostAnswer(orphaned bool, asked *bool) func() bool {
	return func() bool {
		*asked = true
		return orphaned
	}
}

func TestMayStopDiscardsTerminalStopsInOrphanedGroups(t *testing.T) {
	// family: 1 (leads group 1, in the outside session) → 2, 3; 2 → 4.
	tests := []struct {
		name    string
		prep    func(*Tree)
		pid     int32
		sig     int32
		want    StopVerdict
		askHost bool
	}{
		{"pid 1's group: its parent is outside in the same session", nil, 1, abi.SIGTSTP, StopNow, false},
		{"child in its own group, parent in another of the session", func(tr *Tree) {
			tr.Setpgid(1, 2, 2)
		}, 4, abi.SIGTSTP, StopNow, false},
		{"members' parents inside the group or in another session", func(tr *Tree) {
			tr.Setsid(3)
			tr.Fork(3, abi.SIGCHLD) // 5, in group 3 of session 3
		}, 5, abi.SIGTTIN, StopOrphaned, false},
		{"session leader's own group has no outside link", func(tr *Tree) {
			tr.Setsid(3)
		}, 3, abi.SIGTTOU, StopOrphaned, false},
		{"SIGSTOP is never discarded", func(tr *Tree) {
			tr.Setsid(3)
		}, 3, abi.SIGSTOP, StopNow, false},
		{"zombie parent links nothing", func(tr *Tree) {
			tr.Setpgid(2, 4, 4)
			tr.Exit(2, 0, abi.Rusage{}) // 4 goes to pid 1, in another group
		}, 4, abi.SIGTSTP, StopNow, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := family(t, 0)
			if tc.prep != nil {
				tc.prep(tr)
			}
			asked := false
			if got := tr.MayStop(tc.pid, tc.sig, 0, hostAnswer(true, &asked)); got != tc.want {
				t.Errorf("verdict %d, want %d", got, tc.want)
			}
			if asked != tc.askHost {
				t.Errorf("asked the host: %v", asked)
			}
		})
	}
}

func TestMayStopAsksTheHostAboutElfusesOwnGroup(t *testing.T) {
	for _, orphaned := range []bool{false, true} {
		tr := NewTree(0, 1000)
		tr.NewInit("/init", nil, Leads{}) // elfuse leads nothing
		c, _ := tr.Fork(1, abi.SIGCHLD)
		asked := false
		want := StopNow
		if orphaned {
			want = StopOrphaned
		}
		if got := tr.MayStop(c, abi.SIGTSTP, 0, hostAnswer(orphaned, &asked)); got != want || !asked {
			t.Errorf("host orphaned=%v: verdict %d asked %v, want %d", orphaned, got, asked, want)
		}
	}
}

func TestMayStopIsCancelledByANewerSigcont(t *testing.T) {
	tr := family(t, 0)
	seq := tr.ContSent(2)
	never := func() bool { t.Fatal("host asked"); return false }
	if got := tr.MayStop(2, abi.SIGSTOP, seq-1, never); got != StopCancelled {
		t.Errorf("stop older than a SIGCONT: verdict %d", got)
	}
	if got := tr.MayStop(2, abi.SIGSTOP, seq, never); got != StopNow {
		t.Errorf("stop that saw the SIGCONT: verdict %d", got)
	}
	tr.Exit(3, 0, abi.Rusage{})
	if got := tr.MayStop(3, abi.SIGSTOP, 0, never); got != StopGone {
		t.Errorf("zombie: verdict %d", got)
	}
}

func TestForegroundGroupFollowsTcsetpgrpRules(t *testing.T) {
	tests := []struct {
		name       string
		leads      Leads
		prep       func(*Tree)
		caller, pg int32
		want       int32
		wantErr    error
	}{
		{"own group", Leads{Group: true}, nil, 2, 1, 1, nil},
		{"a child's new group", Leads{Group: true}, func(tr *Tree) { tr.Setpgid(1, 2, 2) }, 1, 2, 2, nil},
		{"no such group", Leads{Group: true}, nil, 1, 77, 0, abi.ESRCH},
		{"negative", Leads{Group: true}, nil, 1, -3, 0, abi.EINVAL},
		{"group of another session", Leads{Group: true}, func(tr *Tree) { tr.Setsid(3) }, 1, 3, 0, abi.EPERM},
		{"0 is the outside group for its members", Leads{}, nil, 2, 0, OutsideGroup, nil},
		{"0 is no group for others", Leads{Group: true}, nil, 2, 0, 0, abi.ESRCH},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTree(0, 1000)
			tr.NewInit("/init", nil, tc.leads)
			for _, parent := range []int32{1, 1, 2} {
				tr.Fork(parent, abi.SIGCHLD)
			}
			if tc.prep != nil {
				tc.prep(tr)
			}
			got, err := tr.ForegroundGroup(tc.caller, tc.pg)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("ForegroundGroup(%d, %d) = %d, %v; want %d, %v", tc.caller, tc.pg, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
