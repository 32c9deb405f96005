package ptrace

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// Map implements hvf.Machine.Map: the stub maps the same descriptor
// MAP_SHARED|MAP_FIXED at addr. It is a batch of one op, so that bringing a
// new descriptor into the stub (openat, and a close when the cache is full)
// costs no round trip of its own.
func (m *machine) Map(addr, length uint64, prot hvf.Prot, fd int, off int64) error {
	m = m.caller()
	_, err := m.Apply([]hvf.MapOp{{Kind: hvf.OpMap, Addr: addr, Len: length, Prot: prot, Fd: fd, Off: off}})
	return err
}

// Protect implements hvf.Machine.Protect with an injected mprotect.
func (m *machine) Protect(addr, length uint64, prot hvf.Prot) error {
	m = m.caller()
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	e := batchEntry{nr: unix.SYS_MPROTECT, args: [6]uint64{addr, length, hostProt(prot)}}
	if m.deferOp(&e) {
		m.forget(addr, length) // as in applyChunk
		return nil             // notify_defer.go: the guest's own mprotect makes it
	}
	if _, err := m.inject(unix.SYS_MPROTECT, addr, length, hostProt(prot)); err != nil {
		m.forget(addr, length) // layout.go
		return fmt.Errorf("ptrace: protect %#x+%#x: %w", addr, length, err)
	}
	m.noteOp(&e, fileKey{})
	return nil
}

// Unmap implements hvf.Machine.Unmap with an injected munmap.
func (m *machine) Unmap(addr, length uint64) error {
	m = m.caller()
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	m.forget(addr, length) // layout.go: gone, or not known
	if m.deferOp(&batchEntry{nr: unix.SYS_MUNMAP, args: [6]uint64{addr, length}}) {
		return nil // notify_defer.go: the guest's own munmap makes it
	}
	if _, err := m.inject(unix.SYS_MUNMAP, addr, length); err != nil {
		return fmt.Errorf("ptrace: unmap %#x+%#x: %w", addr, length, err)
	}
	return nil
}

// checkRange accepts only page-aligned, non-empty ranges below the limit,
// so that the guest can never replace the stub's own pages.
func (m *machine) checkRange(addr, length uint64) error {
	end := addr + length
	if addr%pageSize != 0 || length == 0 || length%pageSize != 0 || end < addr || end > m.limit {
		return fmt.Errorf("ptrace: bad guest range %#x+%#x (limit %#x): %w", addr, length, m.limit, unix.EINVAL)
	}
	m.touchAnchors(addr, length) // anchor.go
	return nil
}

func hostProt(p hvf.Prot) uint64 {
	var r uint64
	if p&hvf.ProtRead != 0 {
		r |= unix.PROT_READ
	}
	if p&hvf.ProtWrite != 0 {
		r |= unix.PROT_WRITE
	}
	if p&hvf.ProtExec != 0 {
		r |= unix.PROT_EXEC
	}
	return r
}

// inject runs one system call in the stub and returns its result; a
// result in [-4095, -1] is returned as the errno. The stub must be stopped
// (a batch it runs on its own is waited for first).
// The stub's registers are restored before guest code runs again (Run writes
// m.host back because hostStale is set).
//
// Signals that stop the stub meanwhile (a Kick, a stray signal) are
// suppressed and remembered in interruptPending; a fault in the gadget is an
// error.
func (m *machine) inject(nr uint64, args ...uint64) (uint64, error) {
	e := batchEntry{nr: nr}
	copy(e.args[:], args)
	if _, err := m.runOne(&e); err != nil {
		return 0, err
	}
	if failed(e.ret) {
		return 0, errnoOf(e.ret)
	}
	return e.ret, nil
}

// runGadget loads r into the stopped stub, continues it and waits until it
// traps with RIP at trapRIP, leaving the registers of that stop in r. what
// names the operation in errors.
func (m *machine) runGadget(r *unix.PtraceRegs, trapRIP uint64, what string) error {
	if err := m.startGadget(r, what); err != nil {
		return err
	}
	return m.finishGadget(r, trapRIP, what)
}

// startGadget loads r into the stub, stopped (a pending batch is
// collected first), and continues it.
func (m *machine) startGadget(r *unix.PtraceRegs, what string) error {
	if err := m.sync(); err != nil {
		return err
	}
	m.arm() // notify.go: the gadgets' syscalls are int3s while the guest runs
	if err := unix.PtraceSetRegs(m.pid, r); err != nil {
		return m.ptraceErr(what+": set registers", err)
	}
	m.hostStale = true
	m.gadgetRuns++
	if err := unix.PtraceCont(m.pid, 0); err != nil {
		return fmt.Errorf("%s: continue: %w", what, err)
	}
	return nil
}

// finishGadget waits until the stub, continued by startGadget, traps with
// RIP at trapRIP, and leaves the registers of that stop in r.
//
// Signals that stop the stub meanwhile (a Kick, a stray signal) are
// suppressed and remembered in interruptPending; a fault in the gadget is
// an error.
func (m *machine) finishGadget(r *unix.PtraceRegs, trapRIP uint64, what string) error {
	for {
		ws, err := m.waitWith(spinWait4)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ws.Stopped() && ws.StopSignal() == unix.SIGTRAP {
			if err := unix.PtraceGetRegs(m.pid, r); err != nil {
				return fmt.Errorf("%s: get registers: %w", what, err)
			}
			if r.Rip == trapRIP {
				return nil
			}
		} else if isTick(ws) {
			// The stub's own timer (tick.go): nothing to report.
			if err := unix.PtraceCont(m.pid, 0); err != nil {
				return fmt.Errorf("%s: continue: %w", what, err)
			}
			continue
		} else if ws.Stopped() {
			if si, err := getSigInfo(m.pid); err == nil && si.Code > 0 && isFaultSignal(si.Signo) {
				unix.PtraceGetRegs(m.pid, r) // where it faulted, for the caller
				return fmt.Errorf("%s: stub faulted: signal %d code %d addr %#x",
					what, si.Signo, si.Code, si.Addr)
			}
		}
		m.interruptPending = true
		if err := unix.PtraceCont(m.pid, 0); err != nil {
			return fmt.Errorf("%s: continue: %w", what, err)
		}
	}
}

func isFaultSignal(sig int32) bool {
	switch unix.Signal(sig) {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
		return true
	}
	return false
}

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end uint64
}

// parseMaps reads the address ranges of a /proc/PID/maps file.
func parseMaps(data []byte) ([]mapping, error) {
	var out []mapping
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		rng, _, _ := bytes.Cut(line, []byte(" "))
		lo, hi, ok := bytes.Cut(rng, []byte("-"))
		if !ok {
			return nil, fmt.Errorf("bad line %q", line)
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("bad range in line %q", line)
		}
		out = append(out, mapping{start, end})
	}
	return out, nil
}
