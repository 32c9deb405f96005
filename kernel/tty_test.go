package kernel

import (
	"os"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// ttyTestHost is a sigTestHost that also decides terminal accesses.
type ttyTestHost struct {
	*sigTestHost
	self    bool
	err     error
	calls   int
	sig     int32
	ignored bool
}

func (h *ttyTestHost) TTYAccess(sig int32, ignored bool) (bool, error) {
	h.calls++
	h.sig, h.ignored = sig, ignored
	return h.self, h.err
}

func newTTYTestEnv(t *testing.T, self bool, err error) (*sigTestEnv, *ttyTestHost) {
	e := newSigTestEnv(t)
	h := &ttyTestHost{sigTestHost: e.host, self: self, err: err}
	e.t.Proc.Kernel.Host = h
	return e, h
}

func TestTTYAskStopsTheCallerAndRestarts(t *testing.T) {
	e, h := newTTYTestEnv(t, true, nil)
	if err := e.t.ttyAsk(h, abi.SIGTTIN); err != abi.ERESTARTSYS {
		t.Fatalf("ttyAsk = %v, want ERESTARTSYS", err)
	}
	if h.calls != 1 || h.sig != abi.SIGTTIN || h.ignored {
		t.Errorf("host asked %d times, sig %d ignored %v", h.calls, h.sig, h.ignored)
	}
	if !e.t.Proc.Signals.shared.set.Has(abi.SIGTTIN) {
		t.Error("SIGTTIN not pending for the process")
	}
}

func TestTTYAskPassesTheHostsAnswerOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"go ahead", nil}, {"orphaned or ignored read", abi.EIO}} {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newTTYTestEnv(t, false, tc.err)
			if err := e.t.ttyAsk(h, abi.SIGTTOU); err != tc.err {
				t.Errorf("ttyAsk = %v, want %v", err, tc.err)
			}
			if e.t.Proc.Signals.shared.set.Has(abi.SIGTTOU) {
				t.Error("SIGTTOU queued though the host did not send it")
			}
		})
	}
}

func TestTTYAskTellsTheHostTheSignalIsIgnoredOrBlocked(t *testing.T) {
	t.Run("SIG_IGN", func(t *testing.T) {
		e, h := newTTYTestEnv(t, false, nil)
		e.sigaction(t, abi.SIGTTIN, abi.Sigaction{Handler: abi.SIG_IGN})
		e.t.ttyAsk(h, abi.SIGTTIN)
		if !h.ignored {
			t.Error("an ignored SIGTTIN was reported as not ignored")
		}
	})
	t.Run("blocked", func(t *testing.T) {
		e, h := newTTYTestEnv(t, false, nil)
		e.t.SigMask = uint64(abi.SigBit(abi.SIGTTOU))
		e.t.ttyAsk(h, abi.SIGTTOU)
		if !h.ignored {
			t.Error("a blocked SIGTTOU was reported as not ignored")
		}
	})
	t.Run("handled", func(t *testing.T) {
		e, h := newTTYTestEnv(t, false, nil)
		e.sigaction(t, abi.SIGTTOU, handlerAct(abi.SA_RESTART, 0))
		e.t.ttyAsk(h, abi.SIGTTOU)
		if h.ignored {
			t.Error("a handled SIGTTOU was reported as ignored")
		}
	})
}

func TestTTYCheckAsksOnlyForTerminals(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	e, h := newTTYTestEnv(t, true, nil)
	pipe := newHostFile(p[0])
	defer pipe.Release()
	if pipe.isTerminal() {
		t.Error("a pipe is a terminal")
	}
	if err := e.t.ttyCheck(pipe, abi.SIGTTIN); err != nil || h.calls != 0 {
		t.Errorf("ttyCheck on a pipe = %v after %d questions", err, h.calls)
	}

	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tty := newHostFile(fd)
	defer tty.Release()
	if !tty.isTerminal() {
		t.Error("a pseudo-terminal is not a terminal")
	}
	// It is nobody's controlling terminal: no question either.
	if err := e.t.ttyCheck(tty, abi.SIGTTIN); err != nil || h.calls != 0 {
		t.Errorf("ttyCheck on a terminal that is not the controlling one = %v after %d questions", err, h.calls)
	}
}
