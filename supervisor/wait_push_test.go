package supervisor

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// The child event for an ended child carries what wait reports, and an
// OpReap after it (what the parent sends when it took the zombie) leaves
// nothing for a later wait.
func TestExitEventCarriesTheWaitReport(t *testing.T) {
	tr := family(t, 0)
	if err := tr.Setpgid(1, 3, 3); err != nil {
		t.Fatal(err)
	}
	ru := abi.Rusage{Utime: abi.Timeval{Sec: 2}}
	notes := tr.Exit(3, 9, ru) // killed by SIGKILL
	ev := hasNote(notes, NoteChildEvent, 1)
	if ev == nil || ev.Zombie == nil {
		t.Fatalf("notes %+v: no child event with a report", notes)
	}
	want := zombieReport{Status: 9, Code: abi.CLD_KILLED, Rusage: ru, Pgid: 3, ExitSignal: abi.SIGCHLD}
	if *ev.Zombie != want {
		t.Fatalf("report %+v, want %+v", *ev.Zombie, want)
	}
	if w := ev.Zombie.ipcReport(); w.Status != want.Status || w.Code != want.Code || w.Rusage != want.Rusage ||
		w.Pgid != want.Pgid || w.ExitSignal != want.ExitSignal {
		t.Fatalf("wire report %+v, want %+v", *w, want)
	}
	// What the supervisor's own wait would have said.
	r, err := tr.Wait(1, 3, abi.WEXITED|abi.WNOWAIT)
	if err != nil || r.Pid != 3 || r.Status != want.Status || r.Code != want.Code || r.Rusage != want.Rusage {
		t.Fatalf("Wait = %+v, %v; want the pushed report", r, err)
	}
	tr.Reap(1, 3)
	if _, err := tr.Wait(1, 3, abi.WEXITED|abi.WNOHANG); err != abi.ECHILD {
		t.Fatalf("Wait after Reap: %v, want ECHILD", err)
	}
}

// Stops and continues carry no report: they are not zombies.
func TestStopEventCarriesNoReport(t *testing.T) {
	tr := family(t, 0)
	ev := hasNote(tr.Stopped(3, abi.SIGSTOP), NoteChildEvent, 1)
	if ev == nil || ev.Zombie != nil || ev.Exited {
		t.Fatalf("stop event %+v", ev)
	}
}

// An orphan that is already a zombie reaches its adopter with its report.
func TestAdoptedZombieCarriesItsReport(t *testing.T) {
	tr := family(t, 0)
	tr.Exit(4, 5<<8, abi.Rusage{})
	notes := tr.Exit(2, 0, abi.Rusage{})
	for _, n := range notes {
		if n.Kind == NoteChildEvent && n.To == 1 && n.Pid == 4 {
			if n.Zombie == nil || n.Zombie.Status != 5<<8 || n.Zombie.Code != abi.CLD_EXITED {
				t.Fatalf("adopted zombie's event %+v", n)
			}
			return
		}
	}
	t.Fatalf("notes %+v: no event for the adopted zombie 4", notes)
}
