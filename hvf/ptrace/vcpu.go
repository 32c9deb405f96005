package ptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// The backend's single vCPU is the stub's only thread.
type vcpu struct {
	m *machine
	// regs is what the caller sees and edits; shadow is the value it had
	// when the stub last stopped, so that Run writes registers back only
	// when something changed.
	regs, shadow hvf.Regs
	// segDirty says FS/GS base were set since the last stop; fsSet and
	// gsSet which (settle keeps those over a halt's report).
	segDirty, fsSet, gsSet bool
	closed                 bool
	// xsaveSize is the size of the stub's NT_X86_XSTATE regset, 0 until
	// known, -1 when the host only offers NT_PRFPREG.
	xsaveSize int
	// fpAtRun is an FP image SetFPStateAtRun left for the next Run to
	// load (nil: none).
	fpAtRun []byte
	// fpNoTramp: the FP trampoline faulted on fpAtRun (fptramp.go).
	fpNoTramp bool
	// partial: regs hold only what a notification carries (notify.go).
	partial bool
}

// NewVCPU implements hvf.Machine.NewVCPU. The backend has one vCPU per
// machine (the stub is single-threaded); a second call fails.
func (m *machine) NewVCPU() (hvf.VCPU, error) {
	if err := m.checkThread(); err != nil {
		return nil, err
	}
	if m.vcpu != nil {
		return nil, errors.New("ptrace: only one vCPU per machine is supported")
	}
	v := &vcpu{m: m}
	// The caller sets the start registers; until then they are zero. Run
	// writes them because hostStale is set.
	m.host.Orig_rax = ^uint64(0)
	m.hostStale = true
	m.vcpu = v
	return v, nil
}

func (v *vcpu) Regs() *hvf.Regs { return &v.regs }

// Kick implements hvf.VCPU.Kick: SIGURG to the stub, whose signal-delivery
// stop becomes ExitInterrupted. Safe from any goroutine.
func (v *vcpu) Kick() { v.m.kick() }

func (v *vcpu) FSBase() uint64 { return v.m.host.Fs_base }
func (v *vcpu) GSBase() uint64 { return v.m.host.Gs_base }

func (v *vcpu) SetFSBase(b uint64) {
	if v.m.deferFSBase(b) { // notify_defer.go
		return
	}
	v.m.host.Fs_base = b
	v.segDirty, v.fsSet = true, true
}

func (v *vcpu) SetGSBase(b uint64) {
	v.m.host.Gs_base = b
	v.segDirty, v.gsSet = true, true
}

// Close implements hvf.VCPU.Close. The stub itself goes with the Machine;
// the vCPU of a later guest thread takes its stub thread with it
// (thread.go).
func (v *vcpu) Close() error {
	v.closed = true
	if v.m.leader != nil {
		return v.m.closeThread()
	}
	return nil
}

// Run implements hvf.VCPU.Run: resume the stub under PTRACE_SYSEMU and wait
// for its next stop.
func (v *vcpu) Run() (hvf.Exit, error) {
	m := v.m
	// No gettid check here (it would cost a syscall per exit): a ptrace
	// request from another thread fails with ESRCH, which ptraceErr
	// explains, before anything changes.
	if m.exited.Load() {
		return hvf.Exit{}, errStubGone
	}
	// A held notification is answered below rather than halted.
	if err := m.syncBatch(); err != nil {
		return hvf.Exit{}, err
	}
	if m.root().stale {
		// layout.go: no Apply took them since the recycle.
		if err := m.dropStale(); err != nil {
			return hvf.Exit{}, err
		}
	}
	if v.closed {
		return hvf.Exit{}, errors.New("ptrace: run on a closed vCPU")
	}
	if m.interruptPending {
		m.interruptPending = false
		return hvf.Exit{Reason: hvf.ExitInterrupted}, nil
	}
	// send: the guest resumes by the answer to its notification
	// (notify.go); otherwise the stub is stopped, halted now if need be.
	send := m.nf.held && v.canAnswer()
	if m.nf.held && !send {
		if err := v.settle(); err != nil {
			return hvf.Exit{}, err
		}
	}
	notify := m.notifyActive()
	// tramp: the guest enters through the FP trampoline (fptramp.go),
	// and saved are its registers, for a stop before it got through.
	tramp := false
	var saved hvf.Regs
	if !send && v.fpAtRun != nil {
		if tramp = v.stageFPTramp(); tramp {
			saved = v.regs
		} else if err := v.loadFPAtRun(); err != nil {
			return hvf.Exit{}, err
		}
	}
	if !send && (tramp || m.hostStale || v.segDirty || v.regs != v.shadow) {
		putRegs(&m.host, &v.regs)
		// No syscall is in progress as far as the host kernel is
		// concerned, so it must never try to restart one.
		m.host.Orig_rax = ^uint64(0)
		if tramp {
			m.host.Rip = fpTrampAddr
		}
		if err := unix.PtraceSetRegs(m.pid, &m.host); err != nil {
			return hvf.Exit{}, m.ptraceErr(fmt.Sprintf("set registers (rip %#x fs %#x gs %#x)",
				m.host.Rip, m.host.Fs_base, m.host.Gs_base), err)
		}
		// After the trampoline the stub's RIP is not the one the
		// registers were set with: the stop's registers are read.
		m.hostStale, v.segDirty, v.shadow = tramp, false, v.regs
		v.fsSet, v.gsSet = false, false
	}
	for {
		if !m.resumeGuest() {
			return hvf.Exit{Reason: hvf.ExitInterrupted}, nil
		}
		m.placeStub(m.aff.lastRun) // affinity.go
		m.aff.resumed = time.Now()
		var ws unix.WaitStatus
		var err error
		if notify {
			if send {
				send = false
				err = v.answer()
			} else {
				m.disarm()
				err = ptraceReq(unix.PTRACE_CONT, m.pid, 0)
			}
			if err != nil {
				m.guestStopped()
				return hvf.Exit{}, m.ptraceErr("resume", err)
			}
			var n seccompNotif
			var got bool
			ws, got, err = m.waitNotify(&n)
			m.guestStopped()
			m.aff.lastRun = time.Since(m.aff.resumed)
			if err != nil {
				return hvf.Exit{}, err
			}
			if got {
				if tramp {
					v.fpAtRun = nil // it ran through to a syscall
				}
				return v.notifyExit(&n)
			}
		} else {
			if err := ptraceReq(unix.PTRACE_SYSEMU, m.pid, 0); err != nil {
				m.guestStopped()
				return hvf.Exit{}, m.ptraceErr("sysemu", err)
			}
			ws, err = m.waitRun() // tick.go
			m.guestStopped()
			m.aff.lastRun = time.Since(m.aff.resumed)
			if err != nil {
				return hvf.Exit{}, err
			}
		}
		if isTick(ws) {
			m.ticks++
			continue // the tick only ends the wait: resume without it
		}
		if !ws.Stopped() {
			continue // PTRACE_EVENT stops are not enabled; be tolerant
		}
		sig := ws.StopSignal()
		if sig == unix.SIGTRAP|0x80 {
			if tramp {
				v.fpAtRun = nil // no syscall in the trampoline: it is through
			}
			return v.syscallStop()
		}
		if ws.TrapCause() == unix.PTRACE_EVENT_SECCOMP {
			// The filter's int $0x80 (notify.go): a stop the poll only
			// finds at its timeout, so the process leaves notify mode.
			m.nf.faulted = true
			return v.syscallStop()
		}
		if ws.TrapCause() > 0 {
			continue // a PTRACE_EVENT stop: nothing to report
		}
		si, err := getSigInfo(m.pid)
		if err != nil {
			// EINVAL: a group-stop rather than a signal-delivery stop.
			continue
		}
		if err := v.loadRegs(); err != nil {
			return hvf.Exit{}, err
		}
		if notify {
			if err := m.fixWithdrawn(); err != nil { // notify.go
				return hvf.Exit{}, err
			}
			getRegs(&v.regs, &m.host)
			v.shadow = v.regs
		}
		if tramp && v.trampStopped(&saved, si.Code > 0 && isFaultSignal(si.Signo)) {
			return hvf.Exit{Reason: hvf.ExitInterrupted}, nil
		}
		tramp = false
		ex, ok := classifySignal(si, m.host.Rip, v.fpuKind)
		if !ok {
			if m.log.IsTrace() {
				m.log.Trace("interrupted", "signal", si.Signo, "code", si.Code,
					"rip", fmt.Sprintf("%#x", m.host.Rip))
			}
			return hvf.Exit{Reason: hvf.ExitInterrupted}, nil
		}
		if ex.Vector == hvf.VectorGP {
			ex.ErrorCode = v.gpErrorCode()
		}
		if notify {
			m.nf.faulted = true // notify.go
		}
		if m.log.IsTrace() {
			m.log.Trace("exception", "vector", ex.Vector, "error_code", ex.ErrorCode,
				"fault_addr", fmt.Sprintf("%#x", ex.FaultAddr), "rip", fmt.Sprintf("%#x", m.host.Rip),
				"signal", si.Signo, "code", si.Code)
		}
		return ex, nil
	}
}

// syscallStop handles a PTRACE_SYSEMU stop at syscall entry.
func (v *vcpu) syscallStop() (hvf.Exit, error) {
	m := v.m
	if err := unix.PtraceGetRegs(m.pid, &m.host); err != nil {
		return hvf.Exit{}, fmt.Errorf("ptrace: get registers: %w", err)
	}
	// The host set RAX to -ENOSYS; the guest's RAX is the number.
	m.host.Rax = m.host.Orig_rax
	m.host.Orig_rax = ^uint64(0)
	m.hostStale = true
	// SYSCALL leaves RCX = return RIP and R11 = RFLAGS. A stop without that
	// signature came through int $0x80 (or sysenter), the 32-bit entry a
	// kernel-less 64-bit guest does not have: hardware would raise #GP with
	// the IDT vector in the error code, at the int instruction.
	if m.host.Rcx != m.host.Rip || m.host.R11 != m.host.Eflags {
		m.host.Rip -= 2
		getRegs(&v.regs, &m.host)
		v.shadow = v.regs
		return hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorGP, ErrorCode: 0x80<<3 | 2}, nil
	}
	getRegs(&v.regs, &m.host)
	v.shadow = v.regs
	return hvf.Exit{Reason: hvf.ExitSyscall}, nil
}

// gpErrorCode returns the error code hardware pushes for a #GP at RIP: for
// `int $n` through a gate the guest may not use, the IDT selector of n;
// otherwise 0 (Linux does not report the code through ptrace).
func (v *vcpu) gpErrorCode() uint64 {
	var insn [2]byte
	n, err := unix.PtracePeekData(v.m.pid, uintptr(v.m.host.Rip), insn[:])
	if err != nil || n != len(insn) || insn[0] != 0xcd {
		return 0
	}
	return uint64(insn[1])<<3 | 2
}

// loadRegs reads the stub's registers after a stop.
func (v *vcpu) loadRegs() error {
	if err := unix.PtraceGetRegs(v.m.pid, &v.m.host); err != nil {
		return fmt.Errorf("ptrace: get registers: %w", err)
	}
	getRegs(&v.regs, &v.m.host)
	v.shadow = v.regs
	return nil
}

// fpuKind tells #MF from #XM for a floating-point SIGFPE: an unmasked x87
// exception pending in the FPU status word (ES, bit 7) means #MF.
func (v *vcpu) fpuKind() fpuKind {
	st, err := v.FPState()
	if err != nil || len(st) < 4 {
		return fpuSIMD
	}
	if binary.LittleEndian.Uint16(st[2:])&(1<<7) != 0 {
		return fpuX87
	}
	return fpuSIMD
}

// xstateMax bounds the XSAVE image the host may report (AMX needs ~11 KiB).
const xstateMax = 64 << 10

// fxsaveSize is the legacy FXSAVE image (NT_PRFPREG).
const fxsaveSize = 512

// FPState implements hvf.VCPU.FPState with PTRACE_GETREGSET NT_X86_XSTATE,
// or NT_PRFPREG (the 512-byte FXSAVE image) where XSAVE is not offered.
func (v *vcpu) FPState() ([]byte, error) {
	if err := v.m.checkThread(); err != nil {
		return nil, err
	}
	if v.fpAtRun != nil {
		return append([]byte(nil), v.fpAtRun...), nil
	}
	if err := v.m.sync(); err != nil {
		return nil, err
	}
	v.learnXsaveSize()
	if v.xsaveSize >= 0 {
		size := v.xsaveSize
		if size == 0 {
			size = xstateMax
		}
		buf := make([]byte, size)
		n, err := getRegSet(v.m.pid, unix.NT_X86_XSTATE, buf)
		if err == nil {
			v.xsaveSize = n
			hostXsaveSize.Store(int64(n))
			learnXsaveHost(buf[:n]) // fptramp.go
			return buf[:n], nil
		}
		if err != unix.ENODEV && err != unix.EINVAL {
			return nil, fmt.Errorf("ptrace: get xstate: %w", err)
		}
		v.xsaveSize = -1
		hostXsaveSize.Store(-1)
	}
	buf := make([]byte, fxsaveSize)
	n, err := getRegSet(v.m.pid, unix.NT_PRFPREG, buf)
	if err != nil {
		return nil, fmt.Errorf("ptrace: get fpregs: %w", err)
	}
	return buf[:n], nil
}

// SetFPState implements hvf.VCPU.SetFPState. A 512-byte image sets the
// FXSAVE part only; a longer one is an XSAVE image with XRSTOR semantics
// (a component whose XSTATE_BV bit is clear gets its initial state); one
// shorter than the host's is completed from the current state.
func (v *vcpu) SetFPState(b []byte) error {
	if err := v.m.checkThread(); err != nil {
		return err
	}
	if err := v.m.sync(); err != nil {
		return err
	}
	if len(b) < fxsaveSize {
		return fmt.Errorf("ptrace: FP state of %d bytes is shorter than the FXSAVE area: %w", len(b), unix.EINVAL)
	}
	v.learnXsaveSize()
	if v.fpAtRun != nil {
		if v.xsaveSize > 0 && len(b) >= v.xsaveSize {
			v.fpAtRun = nil // superseded
		} else if err := v.loadFPAtRun(); err != nil {
			return err // b completes it, so it goes first
		}
	}
	if v.xsaveSize > 0 && len(b) >= v.xsaveSize {
		// A whole image: nothing to complete from the current state.
		// The FP trampoline loads it at the next run when it can
		// (fptramp.go); a sigreturn's image it cannot take is checked
		// here.
		if img := b[:v.xsaveSize]; v.m.singleThreaded() && hostXsave.Load().accepts(img) {
			v.fpAtRun = append(v.fpAtRun[:0], img...)
			v.fpNoTramp = false
			return nil
		}
		if err := setRegSet(v.m.pid, unix.NT_X86_XSTATE, b[:v.xsaveSize]); err != nil {
			return fmt.Errorf("ptrace: set xstate: %w", err)
		}
		return nil
	}
	if len(b) == fxsaveSize || v.xsaveSize < 0 {
		if err := setRegSet(v.m.pid, unix.NT_PRFPREG, b[:fxsaveSize]); err != nil {
			return fmt.Errorf("ptrace: set fpregs: %w", err)
		}
		return nil
	}
	cur, err := v.FPState()
	if err != nil {
		return err
	}
	if v.xsaveSize < 0 {
		return v.SetFPState(b[:fxsaveSize])
	}
	img := cur
	if len(b) < len(cur) {
		copy(img, b)
	} else {
		img = b[:len(cur)]
	}
	if err := setRegSet(v.m.pid, unix.NT_X86_XSTATE, img); err != nil {
		return fmt.Errorf("ptrace: set xstate: %w", err)
	}
	return nil
}

// hostXsaveSize is xsaveSize as the first vCPU to ask learned it (0:
// unknown): every stub runs on the same host CPU and kernel, so later
// vCPUs need not probe, nor read the state back to set a whole image.
var hostXsaveSize atomic.Int64

// learnXsaveSize takes the host's XSAVE size when this vCPU has none yet.
func (v *vcpu) learnXsaveSize() {
	if v.xsaveSize == 0 {
		v.xsaveSize = int(hostXsaveSize.Load())
	}
}

// SetFPStateAtRun is SetFPState for an image known to come from
// FPState on this host (a fork child's copy of its parent's): a whole
// XSAVE image is only checked for size now and loaded by the next Run,
// so the caller does not wait for the stub (the fork child reports ready
// sooner). An error loading it is Run's. Other images are set at once.
func (v *vcpu) SetFPStateAtRun(b []byte) error {
	if err := v.m.checkThread(); err != nil {
		return err
	}
	v.learnXsaveSize()
	// Before the size is known (a spare's first process), an image longer
	// than FXSAVE is taken to be the host's XSAVE size, which it is when
	// it comes from FPState here; loadFPAtRun falls back to SetFPState
	// when it is not.
	if v.xsaveSize < 0 || len(b) <= fxsaveSize || (v.xsaveSize > 0 && len(b) != v.xsaveSize) {
		return v.SetFPState(b)
	}
	v.fpAtRun = append(v.fpAtRun[:0], b...)
	return nil
}

// loadFPAtRun sets the image SetFPStateAtRun left. Preconditions: the
// stub is stopped with no batch pending (Run synced).
func (v *vcpu) loadFPAtRun() error {
	b := v.fpAtRun
	v.fpAtRun, v.fpNoTramp = nil, false
	// ptrace clamps a longer image to the host's size, as SetFPState
	// does; a shorter one fails.
	err := setRegSet(v.m.pid, unix.NT_X86_XSTATE, b)
	if err == nil {
		return nil
	}
	if v.xsaveSize > 0 {
		return fmt.Errorf("ptrace: set xstate of the fork image: %w", err)
	}
	// The size was a guess: probe and set the way SetFPState does.
	return v.SetFPState(b)
}

// ptraceReq issues a ptrace request without pointer arguments.
func ptraceReq(req, pid int, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), 0, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// getRegs copies the general registers of a ptrace register set.
func getRegs(d *hvf.Regs, s *unix.PtraceRegs) {
	*d = hvf.Regs{
		R15: s.R15, R14: s.R14, R13: s.R13, R12: s.R12, RBP: s.Rbp, RBX: s.Rbx,
		R11: s.R11, R10: s.R10, R9: s.R9, R8: s.R8,
		RAX: s.Rax, RCX: s.Rcx, RDX: s.Rdx, RSI: s.Rsi, RDI: s.Rdi,
		RIP: s.Rip, RFLAGS: s.Eflags, RSP: s.Rsp,
	}
}

// putRegs stores general registers into a ptrace register set, leaving
// segments and bases alone.
func putRegs(d *unix.PtraceRegs, s *hvf.Regs) {
	d.R15, d.R14, d.R13, d.R12, d.Rbp, d.Rbx = s.R15, s.R14, s.R13, s.R12, s.RBP, s.RBX
	d.R11, d.R10, d.R9, d.R8 = s.R11, s.R10, s.R9, s.R8
	d.Rax, d.Rcx, d.Rdx, d.Rsi, d.Rdi = s.RAX, s.RCX, s.RDX, s.RSI, s.RDI
	d.Rip, d.Eflags, d.Rsp = s.RIP, s.RFLAGS, s.RSP
}

// GuestTSCIsHost says that guest code reads the host's TSC: it runs natively
// in the stub, with no offset or scaling (the kernel's vDSO relies on it).
func (m *machine) GuestTSCIsHost() bool { return true }
