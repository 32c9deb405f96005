package tests

import (
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// progCase is a differential case for a C guest program from testdata,
// built with every compiler in testutil.Compilers.
type progCase struct {
	name         string
	src          string // file in testdata
	args         []string
	files        []testutil.File
	compareFiles bool
	flags        []string // extra elfuse flags
}

// runProgram runs pc as subtests per compiler and, inside, per backend:
// NAME/gcc/ptrace, NAME/musl/kvm...
func runProgram(t *testing.T, pc progCase) {
	t.Helper()
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			bin := cc.Build(t, comp, pc.src)
			testutil.RunCase(t, elfuse, testutil.Case{
				Name:         pc.name,
				Args:         append([]string{bin}, pc.args...),
				Files:        pc.files,
				CompareFiles: pc.compareFiles,
				Flags:        pc.flags,
			})
		})
	}
}

func signalCases() []progCase {
	modes := []string{
		// Handlers with SA_SIGINFO: si_code and si_addr of faults.
		"segv_null", "segv_prot", "fpe", "ill_trap", "sigreturn_regs",
		// Signals sent to self, masks, pending sets.
		"raise_kill", "mask_pending", "sigign",
		// Handler placement and flags.
		"altstack", "resethand", "nested", "avx", "stack_overflow",
		// Default actions: the guest dies and elfuse reports 128+N.
		"die_segv", "die_fpe", "die_ill", "die_trap", "die_abort", "die_term", "die_kill", "die_usr1", "die_pipe",
	}
	var cs []progCase
	for _, m := range modes {
		cs = append(cs, progCase{name: "signals_" + m, src: "signals.c", args: []string{m}})
	}
	return cs
}

func memoryCases() []progCase {
	var cs []progCase
	for _, m := range []string{"fixed", "mprotect", "mremap", "shared_anon", "reserve", "munmap", "large", "deep_stack", "huge_noreserve"} {
		cs = append(cs, progCase{name: "memory_" + m, src: "memory.c", args: []string{m}})
	}
	// The file written through a MAP_SHARED mapping is compared too.
	cs = append(cs, progCase{name: "memory_shared_file", src: "memory.c", args: []string{"shared_file"}, compareFiles: true})
	return cs
}

func TestProgramSignals(t *testing.T) {
	for _, pc := range signalCases() {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

func TestProgramMemory(t *testing.T) {
	for _, pc := range memoryCases() {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

func TestProgramBadPointersGiveEFAULT(t *testing.T) {
	runProgram(t, progCase{
		src:          "badptr.c",
		files:        []testutil.File{{Path: "input.txt", Content: "0123456789abcdefghijklmnopqrstuvwxyz\n"}},
		compareFiles: true,
	})
}

func TestProgramSIMDStringFunctions(t *testing.T) {
	runProgram(t, progCase{src: "simd.c"})
}

func TestProgramTimeAndIdentity(t *testing.T) {
	runProgram(t, progCase{src: "timeid.c"})
}

// TestProgramNamespaceIoctls: the files of /proc/self/ns and ioctl_ns(2)
// on them (type, owning user namespace, owner uid, parent) as the host's.
func TestProgramNamespaceIoctls(t *testing.T) {
	runProgram(t, progCase{src: "ns_ioctl.c"})
}

// TestProgramPrlimitOfAnotherProcess: prlimit(2) reads and sets a child's
// limits through the supervisor, with Linux's errors and permission check.
func TestProgramPrlimitOfAnotherProcess(t *testing.T) {
	runProgram(t, progCase{src: "prlimit_other.c"})
}

// TestProgramExecStartsWithClearRegisters: a new image starts with its
// registers zeroed, none left by the old one; a failed execve keeps the
// caller's.
func TestProgramExecStartsWithClearRegisters(t *testing.T) {
	runProgram(t, progCase{src: "exec_regs.c"})
}

// TestProgramArchPrctl: the FS and GS bases arch_prctl(2) sets and
// reports, also after WRFSBASE.
func TestProgramArchPrctl(t *testing.T) {
	runProgram(t, progCase{src: "arch_prctl.c"})
}

func TestProgramInitialStackAndAuxv(t *testing.T) {
	runProgram(t, progCase{src: "auxv.c", args: []string{"a", "with space", "", strings.Repeat("long-argument-", 300)}})
}

func TestProgramArgsAndExitCode(t *testing.T) {
	runProgram(t, progCase{src: "hello.c", args: []string{"arg one", "two", "", "four"}})
}

// Seed edge cases, one named test each.

func TestMmapLowHintReturnsHint(t *testing.T) {
	runProgram(t, progCase{src: "mmap_hint.c"})
}

func TestBrkPageGranularityInSplitBlock(t *testing.T) {
	runProgram(t, progCase{src: "brk_split.c"})
}

func TestGetcpu(t *testing.T) {
	runProgram(t, progCase{src: "getcpu.c"})
}

func TestTimeoutZeroIsAccepted(t *testing.T) {
	runProgram(t, progCase{src: "hello.c", args: []string{"timeout-zero"}, flags: []string{"--timeout", "0"}})
}

// A guest that computes for longer than --timeout without a single exit is
// neither killed nor slowed: the watchdog only logs.
func TestTimeoutDoesNotStopCPUBoundGuest(t *testing.T) {
	runProgram(t, progCase{src: "spin.c", args: []string{"1500000000"}, flags: []string{"--timeout", "1"}})
}

func TestProgramFileDescriptorsAndPaths(t *testing.T) {
	runProgram(t, progCase{src: "files.c", compareFiles: true})
}

func TestProgramSignalsInterruptBlockingCalls(t *testing.T) {
	runProgram(t, progCase{src: "interrupt.c"})
}

func TestProgramPosixTimers(t *testing.T) {
	runProgram(t, progCase{src: "posixtimer.c"})
}

// TestProgramPosixTimersOnCPUTime: timer_create on the process's CPU
// clock fires after that much CPU time, not wall time.
func TestProgramPosixTimersOnCPUTime(t *testing.T) {
	runProgram(t, progCase{src: "posixtimer_cpu.c"})
}

func TestProgramSignalfd(t *testing.T) {
	runProgram(t, progCase{src: "signalfd.c"})
}

func TestProgramPidfd(t *testing.T) {
	runProgram(t, progCase{src: "pidfd.c"})
}

func TestProgramMlock(t *testing.T) {
	runProgram(t, progCase{src: "mlock.c"})
}

func TestProgramIgnoredSignalsDoNotInterrupt(t *testing.T) {
	runProgram(t, progCase{src: "ignored_signal_wait.c"})
}

// A stopped process's /proc shows its PR_SET_NAME name, or its exec's: the
// tree answers for it (its guestproc is stopped) with the comm the
// guestproc sent when it changed, whoever stopped it.
func TestProgramStoppedProcessComm(t *testing.T) {
	runProgram(t, progCase{src: "procfs_stopped_comm.c"})
}

// A stopped process's /proc shows its descriptors, signal masks, command
// line, environment, map, limits, cwd and exe as the running one does
// (its host process is stopped too, so it is rendered as it stops), and
// the signals sent to it meanwhile as pending.
func TestProgramStoppedProcessFiles(t *testing.T) {
	runProgram(t, progCase{src: "procfs_stopped_files.c"})
}

// A program file some guest process runs cannot be opened for writing or
// truncated (ETXTBSY); it can still be read, renamed and unlinked.
func TestProgramTextBusy(t *testing.T) {
	runProgram(t, progCase{src: "textbusy.c"})
}

// execve starts the new image with the initial FPU/SSE state, also on a
// second exec (elfuse sets a cached initial image, without a read).
func TestProgramExecResetsFPState(t *testing.T) {
	runProgram(t, progCase{src: "exec_fpreset.c"})
}

// getpriority/setpriority, sched_* and ioprio_get aimed at another process
// (renice, taskset -p, chrt -p, ionice -p), ESRCH once it is reaped, and
// the nice value and affinity inherited by fork children, also on a
// recycled host process whose last guest process had set others.
func TestProgramSchedOtherProcess(t *testing.T) {
	runProgram(t, progCase{src: "sched_other.c"})
}

// TestProgramCPUClocks: a process's own CPU clocks, getrusage and times
// agree with what wait4 reports for it (on the ptrace backend guest code
// runs in the stub, whose time they must include).
func TestProgramCPUClocks(t *testing.T) {
	runProgram(t, progCase{src: "cpu_clock.c"})
}

// TestProgramCPUTimers: ITIMER_PROF and ITIMER_VIRTUAL tick on the
// process's CPU time.
func TestProgramCPUTimers(t *testing.T) {
	runProgram(t, progCase{src: "itimer_cpu.c"})
}

// TestProgramCPUClockSleep: clock_nanosleep on the process CPU clock.
func TestProgramCPUClockSleep(t *testing.T) {
	runProgram(t, progCase{src: "cpu_nanosleep.c"})
}

// TestProgramFchmodat2: fchmodat2 and its flags.
func TestProgramFchmodat2(t *testing.T) {
	runProgram(t, progCase{src: "fchmodat2.c"})
}

// TestProgramStatfsProc: statfs and fstatfs of /proc and its files say
// procfs (a synthetic file's descriptor is a memfd on the host).
func TestProgramStatfsProc(t *testing.T) {
	runProgram(t, progCase{src: "statfs_proc.c"})
}

// TestProgramVmspliceTee: vmsplice both ways, and tee/splice refusing
// non-pipes at once (not after waiting for data).
func TestProgramVmspliceTee(t *testing.T) {
	runProgram(t, progCase{src: "vmsplice_tee.c"})
}

// TestProgramSchedAttr: sched_getattr/sched_setattr (chrt's calls) on the
// caller and a child, inherited over fork, and their size errors.
func TestProgramSchedAttr(t *testing.T) {
	runProgram(t, progCase{src: "sched_attr.c"})
}

// TestProgramCredentialsGovernFileAccess: a guest that drops privileges
// (setuid to 1000, capabilities dropped with capset, setfsuid alone) is
// refused what Linux refuses it (open, create, mkdir, path search,
// access with and without AT_EACCESS, chown, chmod, exec), in the process,
// a thread, a fork child and after exec; files it creates get its ids.
func TestProgramCredentialsGovernFileAccess(t *testing.T) {
	testutil.RequireRoot(t, "creds.c changes its ids and capabilities, which only root may")
	runProgram(t, progCase{src: "creds.c"})
}
