package supervisor

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestTextBusyFollowsImagesForkExecAndExit(t *testing.T) {
	tr := NewTree(0, 0)
	tr.NewInit("/init", nil, Leads{Group: true})
	prog, other := [2]uint64{1, 10}, [2]uint64{1, 11}
	tr.SetImage(1, [][2]uint64{prog})
	if !tr.TextBusy(prog) || tr.TextBusy(other) {
		t.Fatal("pid 1's image not busy, or another file busy")
	}
	c, _ := tr.Fork(1, abi.SIGCHLD)
	tr.SetImage(1, [][2]uint64{other}) // pid 1 execs other; the child still runs prog
	if !tr.TextBusy(prog) {
		t.Fatal("a fork child does not run its parent's image")
	}
	tr.Exit(c, 0, abi.Rusage{})
	if tr.TextBusy(prog) {
		t.Fatal("a zombie's image is still busy")
	}
	if !tr.TextBusy(other) {
		t.Fatal("pid 1's new image is not busy")
	}
}
