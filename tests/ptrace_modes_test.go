package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestPtraceSysemuMode runs signal programs and process scripts on the
// ptrace backend with its seccomp listener turned off
// (ELFUSE_PTRACE_NOTIFY=0, hvf/ptrace/notify.go): every guest syscall is
// then a PTRACE_SYSEMU stop, the path of a host that refuses the filter
// and of every stub that has had a second thread. The rest of the suite
// runs the listener.
func TestPtraceSysemuMode(t *testing.T) {
	env, why := testutil.LookCommand("env")
	if why != "" {
		t.Skip(why)
	}
	wrap := []string{env, "ELFUSE_PTRACE_NOTIFY=0"}
	for _, pc := range signalCases() {
		switch pc.args[0] {
		case "segv_null", "sigreturn_regs", "raise_kill", "mask_pending", "altstack", "nested", "avx", "die_segv", "die_usr1":
		default:
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			comp := testutil.Compilers[0]
			bin := cc.Build(t, comp, pc.src)
			testutil.RunCase(t, elfuse, testutil.Case{
				Name: pc.name, Args: append([]string{bin}, pc.args...),
				Wrap: wrap, Backends: []string{"ptrace"},
			})
		})
	}
	requireBusybox(t)
	requireProcesses(t)
	for _, s := range []string{"pipelines.sh", "traps.sh", "exec_loop.sh", "statuses.sh"} {
		c := procShellCase(t, busyboxShell(), s)
		c.Name = "busybox_" + c.Name
		c.Wrap, c.Backends = wrap, []string{"ptrace"}
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
