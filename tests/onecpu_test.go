package tests

import (
	"strconv"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
	"golang.org/x/sys/unix"
)

// TestOneCPU runs the process scripts of busybox sh and bash with elfuse
// (supervisor, guestprocs, stubs) confined to one CPU by taskset, as on a
// one-vCPU machine or under a container's one-CPU quota: the supervisor,
// the guestprocs and their Go runtimes then share it, and nothing may wait
// for another CPU to make progress. Until the anchor left two Ps for the
// work (cmd/elfuse/sysmon.go) each fork waited for sysmon's 10 ms there;
// the outcome was right, only 5x slower, which no test may time, but one
// CPU is an interleaving of its own.
func TestOneCPU(t *testing.T) {
	requireBusybox(t)
	requireProcesses(t)
	taskset, why := testutil.LookCommand("taskset")
	if why != "" {
		t.Skip(why)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	cpu := -1
	for i := 0; i < 1024 && cpu < 0; i++ {
		if set.IsSet(i) {
			cpu = i
		}
	}
	if cpu < 0 {
		t.Fatal("no CPU in this process's affinity mask")
	}
	wrap := []string{taskset, "-c", strconv.Itoa(cpu)}
	var cases []testutil.Case
	for _, s := range []string{"pipelines.sh", "subshells.sh", "background.sh", "traps.sh", "exec_loop.sh", "statuses.sh"} {
		c := procShellCase(t, busyboxShell(), s)
		c.Name = "busybox_" + c.Name
		cases = append(cases, c)
	}
	if _, why := testutil.LookCommand(bashStatic); why == "" {
		cases = append(cases, procShellCase(t, bashShell(), "bash_jobs.sh"))
	}
	for _, c := range cases {
		c.Wrap = wrap
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
