package kernel

import (
	"strconv"
	"sync"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// jobTestHost is a sigTestHost that records StopSelf calls.
type jobTestHost struct {
	sigTestHost
	mu    sync.Mutex
	stops []jobStop
	// refuse makes StopSelf report that no stop happened.
	refuse bool
}

type jobStop struct {
	sig int32
	seq uint64
}

func (h *jobTestHost) StopSelf(sig int32, contSeq uint64) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stops = append(h.stops, jobStop{sig, contSeq})
	return !h.refuse, nil
}

func (h *jobTestHost) recorded() []jobStop {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]jobStop(nil), h.stops...)
}

func newJobTestEnv(t *testing.T) (*sigTestEnv, *jobTestHost) {
	e := newSigTestEnv(t)
	h := &jobTestHost{sigTestHost: sigTestHost{pid: 100}}
	e.t.Proc.Kernel.Host = h
	return e, h
}

func TestStopSignalWakesSleeperStopsAndRestartsTheCall(t *testing.T) {
	for _, sig := range []int{abi.SIGTSTP, abi.SIGTTIN, abi.SIGTTOU, abi.SIGSTOP} {
		t.Run(strconv.Itoa(sig), func(t *testing.T) {
			e, h := newJobTestEnv(t)
			e.putSigset(t, argAct, 0)
			done := e.inBackground(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 8)
			assertBlocked(t, done)
			e.t.Proc.Kill(sig)
			rax := waitResult(t, done)
			if got := h.recorded(); len(got) != 1 || got[0].sig != int32(sig) {
				t.Fatalf("stops %+v, want one for %d", got, sig)
			}
			if rax != abi.SYS_RT_SIGSUSPEND || e.cpu.regs.RIP != testSyscallRIP-2 {
				t.Errorf("rax %#x rip %#x: sigsuspend not restarted after the stop", rax, e.cpu.regs.RIP)
			}
			if e.host.exited || h.exited {
				t.Error("a stop signal ended the process")
			}
		})
	}
}

func TestStopSignalWithoutJobHostIsHarmless(t *testing.T) {
	e := newSigTestEnv(t)
	e.putSigset(t, argAct, 0)
	done := e.inBackground(abi.SYS_RT_SIGSUSPEND, uint64(argAct), 8)
	assertBlocked(t, done)
	e.t.Proc.Kill(abi.SIGTSTP)
	if rax := waitResult(t, done); rax != abi.SYS_RT_SIGSUSPEND {
		t.Errorf("rax %#x, want the call restarted", rax)
	}
	if e.host.exited {
		t.Error("SIGTSTP killed the process")
	}
}

func TestCaughtStopSignalRunsHandlerInsteadOfStopping(t *testing.T) {
	e, h := newJobTestEnv(t)
	e.sigaction(t, abi.SIGTSTP, handlerAct(0, 0))
	e.syscall(abi.SYS_KILL, 100, abi.SIGTSTP)
	if e.cpu.regs.RIP != uint64(testHandler) {
		t.Error("handler not entered")
	}
	if got := h.recorded(); len(got) != 0 {
		t.Errorf("stopped %+v though the signal is caught", got)
	}
}

func TestSigcontAndStopSignalsCancelEachOtherWhilePending(t *testing.T) {
	e, _ := newJobTestEnv(t)
	all := abi.SigSetOf(abi.SIGTSTP, abi.SIGTTIN, abi.SIGTTOU, abi.SIGCONT, abi.SIGUSR1)
	e.t.setSigMask(all)
	e.syscall(abi.SYS_GETPID) // the thread registers at its first delivery
	e.t.Proc.Kill(abi.SIGTSTP)
	e.t.Proc.Kill(abi.SIGTTIN)
	e.t.Proc.Kill(abi.SIGUSR1)
	e.t.SendSignal(abi.SIGTTOU, nil)
	e.t.Proc.Kill(abi.SIGCONT)
	if got, want := e.t.PendingSignals(), abi.SigSetOf(abi.SIGCONT, abi.SIGUSR1); got != want {
		t.Fatalf("pending %#x after SIGCONT, want %#x", got, want)
	}
	e.t.SendSignal(abi.SIGTSTP, nil)
	if got, want := e.t.PendingSignals(), abi.SigSetOf(abi.SIGTSTP, abi.SIGUSR1); got != want {
		t.Fatalf("pending %#x after SIGTSTP, want %#x", got, want)
	}
}

func TestStopCarriesTheSigcontSequenceSeenAtDequeue(t *testing.T) {
	e, h := newJobTestEnv(t)
	info := &abi.Siginfo{Signo: abi.SIGCONT, Code: abi.SI_USER}
	e.t.Proc.ContinueFrom(info, 7, false)
	e.t.Proc.ContinueFrom(info, 3, false) // an older number never goes back
	e.syscall(abi.SYS_KILL, 100, abi.SIGTSTP)
	if got := h.recorded(); len(got) != 1 || got[0] != (jobStop{abi.SIGTSTP, 7}) {
		t.Fatalf("stops %+v, want SIGTSTP with sequence 7", got)
	}
}

func TestSigcontFromSupervisorDiscardsPendingStop(t *testing.T) {
	e, h := newJobTestEnv(t)
	e.t.setSigMask(abi.SigSetOf(abi.SIGTSTP))
	e.t.Proc.Kill(abi.SIGTSTP)
	e.t.Proc.ContinueFrom(&abi.Siginfo{Signo: abi.SIGCONT, Code: abi.SI_USER}, 1, false)
	e.t.setSigMask(0)
	e.syscall(abi.SYS_GETPID)
	if got := h.recorded(); len(got) != 0 {
		t.Errorf("stopped %+v by a SIGTSTP a later SIGCONT cancelled", got)
	}
}
