package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestQuietWaitSkipsOnlyPollsWithKnownAnswers(t *testing.T) {
	p := &Process{}
	ch := make(chan struct{})
	later := make(chan struct{})
	p.noteQuietChild(ch, 7, abi.SIGCHLD)
	p.noteQuietChild(ch, 8, 0) // a clone child: only __WALL/__WCLONE waits see it
	for _, c := range []struct {
		name    string
		ch      <-chan struct{}
		pid     int32
		options int32
		want    bool
	}{
		{"the forked child, no event since", ch, 7, abi.WEXITED, true},
		{"the forked child with __WALL", ch, 7, abi.WEXITED | abi.WALL, true},
		{"a child event arrived since the fork", later, 7, abi.WEXITED, false},
		{"another pid", ch, 9, abi.WEXITED, false},
		{"any child (older ones may have news)", ch, -1, abi.WEXITED, false},
		{"the process group", ch, 0, abi.WEXITED, false},
		{"WNOHANG polls", ch, 7, abi.WEXITED | abi.WNOHANG, false},
		{"a child with another exit signal", ch, 8, abi.WEXITED, false},
		{"__WCLONE only", ch, 7, abi.WEXITED | int32(-1<<31), false},
	} {
		if got := p.quietWait(c.ch, c.pid, c.options); got != c.want {
			t.Errorf("%s: quietWait = %v, want %v", c.name, got, c.want)
		}
	}
	p.noteQuietChild(later, 9, abi.SIGCHLD) // a new channel starts afresh
	if p.quietWait(later, 7, abi.WEXITED) || !p.quietWait(later, 9, abi.WEXITED) {
		t.Errorf("after a fork on a new events channel: want only the new child quiet")
	}
	p.forgetQuiet()
	if p.quietWait(later, 9, abi.WEXITED) {
		t.Errorf("after forgetQuiet the child is still taken as quiet")
	}
}
