package supervisor

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// A recycled guestproc serves a new pid after its first process ended:
// its host pid maps to the live process, never to the zombie.
func TestPidOfHostRecycled(t *testing.T) {
	tr := family(t, 10)
	tr.SetHostPid(1, 500)
	tr.SetHostPid(2, 501)
	tr.SetHostPid(3, 502)
	for host, want := range map[int]int32{500: 1, 501: 2, 502: 3, 999: 0, 0: 0} {
		if got := tr.PidOfHost(host); got != want {
			t.Errorf("PidOfHost(%d) = %d, want %d", host, got, want)
		}
	}
	tr.Exit(3, 0, abi.Rusage{}) // a zombie of init
	if got := tr.PidOfHost(502); got != 0 {
		t.Errorf("host pid of a zombie maps to %d, want 0", got)
	}
	if got := tr.HostPidOf(3); got != 0 {
		t.Errorf("HostPidOf(zombie) = %d, want 0", got)
	}
	c, err := tr.Fork(1, abi.SIGCHLD)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetHostPid(c, 502)
	if got := tr.PidOfHost(502); got != c {
		t.Errorf("recycled host pid maps to %d, want the new process %d", got, c)
	}
	if got := tr.HostPidOf(c); got != 502 {
		t.Errorf("HostPidOf(%d) = %d, want 502", c, got)
	}
	if got := tr.HostPidOf(42); got != 0 {
		t.Errorf("HostPidOf(no such pid) = %d, want 0", got)
	}
}
