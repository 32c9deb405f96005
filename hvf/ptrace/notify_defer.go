package ptrace

// Machine operations the guest's own syscall makes (and a new FS base,
// deferFSBase). A guest mprotect or
// munmap in notify mode is a fast exit; its handler then asks the Machine
// for the same call on the same range, which used to halt the stub (a
// SIGURG and its stop), inject the call and resume it: three stops where
// the guest's syscall, let through, would do. So when the one operation of
// an Apply is exactly the held notification's syscall (the same number and
// arguments, the operation its handler's last), it is deferred: the answer
// is SECCOMP_USER_NOTIF_FLAG_CONTINUE, and the stub makes the call itself.
// Only calls whose arguments are all registers qualify: the registers of
// a thread waiting for its answer cannot change (notify mode is
// single-threaded), so the call made is the one the handler checked.
//
// Anything that needs the stub stopped before the answer (another Machine
// operation, the FP state, LoadRegs: they all settle) makes the deferred
// call first, injected as before. A handler that fails after deferring
// does so too (canAnswer). If a signal withdraws the notification before
// the answer, the call is injected at the stop that follows (fixWithdrawn).

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// deferOn says whether calls may be deferred (ELFUSE_PTRACE_DEFER=0 in
// elfuse's environment turns it off, for comparisons).
var deferOn = os.Getenv("ELFUSE_PTRACE_DEFER") != "0"

// deferArgs is how many arguments of a deferrable syscall there are.
func deferArgs(nr uint64) int {
	switch nr {
	case unix.SYS_MPROTECT:
		return 3
	case unix.SYS_MUNMAP, unix.SYS_ARCH_PRCTL:
		return 2
	}
	return 0
}

// archSetFS is arch_prctl's ARCH_SET_FS.
const archSetFS = 0x1002

// deferFSBase leaves a new FS base to the held notification's own
// arch_prctl(ARCH_SET_FS, b), when it is that call: the stub's thread sets
// its own base as the host kernel would have, without a halt (each start
// of a glibc program makes one). m.host has the new base from here on.
func (m *machine) deferFSBase(b uint64) bool {
	e := batchEntry{nr: unix.SYS_ARCH_PRCTL, args: [6]uint64{archSetFS, b}}
	if !m.deferOp(&e) {
		return false
	}
	m.host.Fs_base = b
	return true
}

// deferOp leaves e, the only entry of a batch, to the held notification's
// own syscall when it is that syscall, and reports whether it did.
func (m *machine) deferOp(e *batchEntry) bool {
	if !deferOn || !m.nf.held || m.nf.deferred != nil || m.pending != nil || !m.notifyActive() || e.link != 0 {
		return false
	}
	n := deferArgs(e.nr)
	if n == 0 || uint64(m.nf.nr) != e.nr {
		return false
	}
	for i := range n {
		if e.args[i] != m.nf.args[i] {
			return false
		}
	}
	d := *e
	m.nf.deferred = &d
	return true
}

// flushDeferred injects the deferred call into the stopped stub.
func (m *machine) flushDeferred() error {
	d := m.nf.deferred
	if d == nil {
		return nil
	}
	m.nf.deferred = nil
	if _, err := m.runOne(d); err != nil {
		return err
	}
	if failed(d.ret) {
		return fmt.Errorf("ptrace: deferred syscall %d %#x+%#x: %w", d.nr, d.args[0], d.args[1], errnoOf(d.ret))
	}
	if d.nr == unix.SYS_ARCH_PRCTL {
		// The stop before the call reported the old base.
		m.host.Fs_base = d.args[1]
	}
	return nil
}
