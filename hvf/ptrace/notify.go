package ptrace

// Syscall exits through a seccomp listener (notify mode).
//
// Under PTRACE_SYSEMU every guest syscall is a ptrace stop: the stub stops,
// the tracer's wait4 returns, then GETREGS, SETREGS and the resume, four
// requests and two context switches (13-23 µs a call on the PVM host of
// session 15). A seccomp filter in the stub that answers guest syscalls
// with SECCOMP_RET_USER_NOTIF makes the same round trip two ioctls on a
// listener descriptor, with nothing to read or write but the syscall's
// number, arguments and result (about 6 µs a call from Go on that host,
// both on one CPU).
//
// The price is that such an exit carries only RAX (the number), the six
// argument registers and RIP. So:
//   - syscalls whose handlers need more (signal return, clone and fork,
//     execve, arch_prctl, memory mappings, exit: EnableNotify's slow list)
//     are turned into a ptrace stop at once (halt), and the kernel sees an
//     ordinary syscall exit with every register;
//   - anything else that needs the stub stopped while a notification is
//     held (a Machine operation, the FP state, hvf.LoadRegs before a
//     signal frame is built) halts it first, and the registers the kernel
//     changed are merged into the ones the stop reports (settle);
//   - halting is a SIGURG to the stub: its wait for the answer ends with
//     -ERESTARTSYS and it stops for the signal, which the next resume
//     suppresses with the syscall cancelled (orig_rax -1).
//
// The listener cannot say when the stub stops instead. A Kick also
// writes an eventfd the tracer polls with the listener, which then looks
// for the stop its SIGURG makes (waitNotify). A fault is found by wait4
// WNOHANG when the poll times out, every notifyPoll of guest computation;
// the process then leaves notify mode (faulted). The guestproc keeps
// ignoring SIGCHLD: stops cost no signal delivery, and a SIGCHLD could
// not end the poll without a race anyway (one handled just before the
// poll starts is lost). Shorter timeouts (100 µs, then 1 ms) made make
// -j2 slower: a wake-up of the tracer, sharing the stub's CPU, for most
// runs of a compiler between two syscalls.
//
// Containment: the filter lets through, natively, only the syscall
// instructions of the stub's own gadgets (their return addresses), which
// the tracer uses for injected calls. The guest could jump to them, so
// while its code runs in notify mode they are int3s: the stub's code page
// is a memfd the tracer also maps, and it writes the instructions back
// (arm) before an injected call and removes them (disarm) before the guest
// runs. Under PTRACE_SYSEMU (a stub with several threads) the filter is
// never consulted, as SYSEMU stops and skips every syscall before seccomp
// runs, and the gadgets stay armed.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// notifyConfig is the process-wide switch, set before the first machine.
var notifyConfig struct {
	on   atomic.Bool
	slow [notifyNrMax]bool
}

// notifyNrMax bounds the syscall numbers the slow table covers (x86-64's
// end below 500); a number outside it is fast, as the kernel answers it
// with ENOSYS from the number alone.
const notifyNrMax = 512

// notifyPoll is the timeout of the tracer's poll, after which it looks
// for a stop the listener does not report (a fault).
const notifyPoll = 10 * time.Millisecond

// notifyKickPoll is the timeout while a stop is expected soon.
const notifyKickPoll = 20 * time.Microsecond

// EnableNotify makes every later machine of this process use notify mode
// where it can (a host that refuses the filter or pidfd_getfd keeps
// SYSEMU). slow lists the syscall numbers whose exits need every register
// or a stopped stub; it panics on one outside [0, 512).
func EnableNotify(slow []int) {
	for _, nr := range slow {
		if nr < 0 || nr >= notifyNrMax {
			panic(fmt.Sprintf("ptrace: slow syscall %d outside the table", nr))
		}
		notifyConfig.slow[nr] = true
	}
	notifyConfig.on.Store(true)
}

// NotifyEnabled reports whether EnableNotify was called.
func NotifyEnabled() bool { return notifyConfig.on.Load() }

// notifyState is a stub's listener and gadget switch (the root machine's).
type notifyState struct {
	fd int // the listener, -1: notify mode unavailable
	// kickFd is an eventfd a Kick writes after its SIGURG to the stub.
	kickFd int
	// code is the tracer's writable mapping of the stub's code page.
	code  []byte
	armed bool
	// held: the stub waits for the answer to notification id.
	held bool
	id   uint64
	// faulted: the guest of this process faulted; it stays in SYSEMU
	// mode until the stub is recycled, as a program that handles its
	// faults (a collector's write barrier) would otherwise wait a
	// notifyPoll for each.
	faulted bool
	// threaded: the stub has had a second thread; it stays in SYSEMU
	// mode for good (a parked thread that was never attached would hit
	// the disarmed pause gadget).
	threaded bool
	// lost is the answer to a notification withdrawn under the tracer
	// (notifySend's ENOENT): the stop that follows gets it as the result,
	// after lostOp, a deferred call it was to make, is injected.
	lost    uint64
	hasLost bool
	lostOp  *batchEntry
	// nr and args are the held notification's syscall; deferred is the
	// Machine operation left to it (notify_defer.go).
	nr       int32
	args     [6]uint64
	deferred *batchEntry
}

// syscallSites are the offsets in the stub's code page of its gadgets'
// syscall instructions.
var syscallSites = []uint64{
	gadgetOff,
	cloneOff,
	cloneOff + 13,
	batchOff + batchSyscallOff,
}

// notifyActive says whether this machine's guest runs in notify mode: the
// stub's only thread, with a listener.
func (m *machine) notifyActive() bool {
	return m.nf.fd >= 0 && !m.nf.threaded && !m.nf.faulted && m.leader == nil && m.threads.n.Load() == 0
}

// setSites writes b over every gadget syscall instruction.
func (m *machine) setSites(b [2]byte) {
	for _, off := range syscallSites {
		copy(m.nf.code[off:off+2], b[:])
	}
}

// arm puts the gadgets' syscall instructions back before an injected call.
func (m *machine) arm() {
	r := m.root()
	if r.nf.code == nil || r.nf.armed {
		return
	}
	r.setSites([2]byte{0x0f, 0x05})
	r.nf.armed = true
}

// disarm turns them into int3s before guest code runs in notify mode.
func (m *machine) disarm() {
	if m.nf.code == nil || !m.nf.armed {
		return
	}
	m.setSites([2]byte{0xcc, 0xcc})
	m.nf.armed = false
}

// notifyFilter is the stub's seccomp program: the gadgets' syscalls are
// allowed, a syscall of another architecture (int $0x80) is a ptrace stop
// (PTRACE_EVENT_SECCOMP), every other one a notification. Slow syscalls
// are notifications too: a ptrace stop would only be seen at the poll's
// timeout (see above), so their exit halts the stub (notifyExit).
func notifyFilter() []byte {
	const (
		ldAbs     = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeqK      = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		retK      = 0x06 // BPF_RET|BPF_K
		archX86   = 0xc000003e
		retAllow  = 0x7fff0000
		retTrace  = 0x7ff00000
		retNotify = 0x7fc00000
	)
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	// Layout: 0 ld arch; 1 jeq x86-64; 2 ld ip hi; 3 jeq stub; 4 ld ip
	// lo; the sites' jeqs; then notify, trace, allow.
	n := len(syscallSites)
	notifyAt := 5 + n
	traceAt, allowAt := notifyAt+1, notifyAt+2
	prog := []insn{
		{ldAbs, 0, 0, 4},
		{jeqK, 0, uint8(traceAt - 2), archX86},
		{ldAbs, 0, 0, 12},
		{jeqK, 0, uint8(notifyAt - 4), uint32(stubBase >> 32)},
		{ldAbs, 0, 0, 8},
	}
	for i, off := range syscallSites {
		at := 5 + i
		jf := uint8(0)
		if i == n-1 {
			jf = uint8(notifyAt - at - 1)
		}
		prog = append(prog, insn{jeqK, uint8(allowAt - at - 1), jf, uint32(stubBase + off + 2)})
	}
	prog = append(prog, insn{retK, 0, 0, retNotify}, insn{retK, 0, 0, retTrace}, insn{retK, 0, 0, retAllow})
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, prog) // cannot fail
	return b.Bytes()
}

// Scratch page layout of the filter (tick.go and files.go have the rest).
const (
	scratchFprog  = scratchAddr + 0x400 // struct sock_fprog
	scratchFilter = scratchAddr + 0x410 // the program
)

// setupNotify installs the filter in a freshly started stub and takes its
// listener. On error the stub may have been left with its code page
// replaced (same bytes) but no filter: SYSEMU works as before.
func (m *machine) setupNotify() error {
	code, memfd, err := stubCodeCopy()
	if err != nil {
		return err
	}
	defer unix.Close(memfd)
	m.nf.code, m.nf.armed = code, true
	filter := notifyFilter()
	var fprog [16]byte
	binary.LittleEndian.PutUint16(fprog[0:], uint16(len(filter)/8))
	binary.LittleEndian.PutUint64(fprog[8:], scratchFilter)
	if err := m.writeStub(scratchFilter, filter); err != nil {
		return err
	}
	if err := m.writeStub(scratchFprog, fprog[:]); err != nil {
		return err
	}
	path := fmt.Sprintf("/proc/%d/fd/%d\x00", m.tracerPid, memfd)
	const noNewPrivs = 38       // PR_SET_NO_NEW_PRIVS
	const atFDCWD = ^uint64(99) // AT_FDCWD, -100
	const setModeFilter, newListener = 1, 8
	ents := []batchEntry{
		{nr: unix.SYS_OPENAT, args: [6]uint64{atFDCWD, batchStrings, unix.O_RDONLY | unix.O_CLOEXEC}},
		{nr: unix.SYS_MMAP, args: [6]uint64{stubBase, pageSize, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_SHARED | unix.MAP_FIXED}},
		{nr: unix.SYS_CLOSE},
		{nr: unix.SYS_PRCTL, args: [6]uint64{noNewPrivs, 1}},
		{nr: unix.SYS_SECCOMP, args: [6]uint64{setModeFilter, newListener, scratchFprog}},
	}
	ents[1].linkArg(4, 0)
	ents[2].linkArg(0, 0)
	if _, err := m.runBatch(ents, []byte(path), true); err != nil {
		return fmt.Errorf("install the seccomp filter: %w", err)
	}
	stubFd := int(ents[4].ret)
	fd, err := unix.PidfdGetfd(m.pidfd, stubFd, 0)
	if err != nil {
		return fmt.Errorf("take the seccomp listener: %w", err)
	}
	m.inject(unix.SYS_CLOSE, uint64(stubFd)) // the stub never uses it
	if err := unix.PtraceSetOptions(m.pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESECCOMP); err != nil {
		unix.Close(fd)
		return fmt.Errorf("ptrace: set options: %w", err)
	}
	kfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("eventfd: %w", err)
	}
	m.nf.fd, m.nf.kickFd = fd, kfd // pidfd_getfd set close-on-exec
	return nil
}

// stubCodeCopy returns a memfd holding the stub's code page and the
// calling process's writable shared mapping of it.
func stubCodeCopy() ([]byte, int, error) {
	fd, err := unix.MemfdCreate("elfuse-stub-code", unix.MFD_CLOEXEC|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("elfuse-stub-code", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return nil, -1, fmt.Errorf("memfd_create: %w", err)
	}
	if _, err := unix.Pwrite(fd, stubImage()[:pageSize], 0); err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("write stub code: %w", err)
	}
	b, err := unix.Mmap(fd, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("map stub code: %w", err)
	}
	return b, fd, nil
}

// closeNotify releases the listener and the code mapping.
func (m *machine) closeNotify() {
	if m.nf.fd >= 0 {
		unix.Close(m.nf.fd)
		unix.Close(m.nf.kickFd)
		m.nf.fd, m.nf.kickFd = -1, -1
	}
	if m.nf.code != nil {
		unix.Munmap(m.nf.code)
		m.nf.code = nil
	}
}

// waitNotify waits for the guest's next notification (n filled, got) or
// the stub's next stop (ws).
//
// After a Kick's eventfd the poll's timeout is notifyKickPoll until a stop
// is found (its SIGURG may not have stopped the stub yet) or the guest
// makes a syscall. The eventfd can be stale: the Kick's stop may have been
// found already by WNOHANG, so it never justifies a blocking wait.
func (m *machine) waitNotify(n *seccompNotif) (ws unix.WaitStatus, got bool, err error) {
	timeout := notifyPoll
	spin := spinOn // spin.go
	deadline := time.Now().Add(spinFor)
	for {
		t := int64(timeout)
		if spin {
			t = 0
		}
		lrev, krev, perr := rawPoll(m.nf.fd, m.nf.kickFd, t)
		if spin && perr == nil && lrev == 0 && krev == 0 {
			if time.Now().Before(deadline) {
				schedYield()
				continue
			}
			spin = false
			continue
		}
		if perr == nil && lrev&unix.POLLIN != 0 {
			if notifyRecv(m.nf.fd, n) == nil {
				return 0, true, nil
			}
			// ENOENT: withdrawn, the stub got a signal; its stop follows.
			timeout = notifyKickPoll
		}
		if perr == nil && lrev&(unix.POLLHUP|unix.POLLERR) != 0 {
			// No task uses the filter any more: the stub is gone.
			ws, err := m.wait()
			return ws, false, err
		}
		if perr == nil && krev&unix.POLLIN != 0 {
			var b [8]byte
			unix.Read(m.nf.kickFd, b[:])
			timeout = notifyKickPoll
		}
		// A timeout, EINTR or a Kick: a stop, maybe.
		pid, werr := rawWait4NoHang(m.pid, &ws)
		if werr != nil && werr != unix.EINTR {
			m.exited.Store(true)
			return 0, false, fmt.Errorf("ptrace: wait4 stub: %w", werr)
		}
		if pid == m.pid {
			return m.checkStatus(ws)
		}
	}
}

// checkStatus turns the stub's exit into an error, as waitWith does.
func (m *machine) checkStatus(ws unix.WaitStatus) (unix.WaitStatus, bool, error) {
	switch {
	case ws.Exited():
		m.exited.Store(true)
		return ws, false, fmt.Errorf("%w: exited with status %d", errStubGone, ws.ExitStatus())
	case ws.Signaled():
		m.exited.Store(true)
		return ws, false, fmt.Errorf("%w: killed by signal %v", errStubGone, ws.Signal())
	}
	return ws, false, nil
}

// notifyExit makes the exit of notification n: a slow syscall halts the
// stub and is a whole syscall stop; any other fills only the number, the
// arguments and RIP (RCX too, which SYSCALL sets to it).
func (v *vcpu) notifyExit(n *seccompNotif) (hvf.Exit, error) {
	m := v.m
	m.nf.held, m.nf.id = true, n.ID
	m.nf.nr, m.nf.args = n.Nr, n.Args
	if n.Nr >= 0 && n.Nr < notifyNrMax && notifyConfig.slow[n.Nr] {
		if err := m.halt(); err != nil {
			return hvf.Exit{}, err
		}
		m.host.Rax = m.host.Orig_rax
		m.host.Orig_rax = ^uint64(0)
		m.hostStale = true
		getRegs(&v.regs, &m.host)
		v.shadow, v.partial = v.regs, false
		return hvf.Exit{Reason: hvf.ExitSyscall}, nil
	}
	r := &v.regs
	r.RAX = uint64(n.Nr)
	r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9 = n.Args[0], n.Args[1], n.Args[2], n.Args[3], n.Args[4], n.Args[5]
	r.RIP, r.RCX = n.IP, n.IP
	v.shadow, v.partial = *r, true
	return hvf.Exit{Reason: hvf.ExitSyscall}, nil
}

// canAnswer says whether the held notification can be answered as it is:
// the kernel changed no register but RAX, and nothing else waits for the
// stub to be stopped.
func (v *vcpu) canAnswer() bool {
	if !v.partial || v.segDirty || v.fpAtRun != nil {
		return false
	}
	if v.m.nf.deferred != nil && v.regs.RAX != 0 {
		return false // the handler failed after its deferred call
	}
	a, b := v.regs, v.shadow
	a.RAX = b.RAX
	return a == b
}

// halt stops a stub that waits for the answer to a held notification: a
// SIGURG ends its wait, and its signal-delivery stop is awaited. The
// stop's registers are in m.host (RAX -ERESTARTSYS, orig_rax the number).
func (m *machine) halt() error {
	if !m.nf.held {
		return nil
	}
	m.nf.held = false
	m.halts++
	if err := unix.Tgkill(m.pid, m.pid, unix.SIGURG); err != nil {
		return fmt.Errorf("ptrace: halt the stub: %w", err)
	}
	for {
		ws, err := m.waitWith(spinWait4)
		if err != nil {
			return err
		}
		if ws.Stopped() && ws.TrapCause() <= 0 {
			break // a signal-delivery stop: ours, or one that came first
		}
	}
	if err := unix.PtraceGetRegs(m.pid, &m.host); err != nil {
		return fmt.Errorf("ptrace: get registers: %w", err)
	}
	return nil
}

// settle halts the stub of a held notification and makes the vCPU's
// registers whole: those the kernel changed since the exit (RAX always,
// the result) over those the stop reports. The syscall is over for the
// host (orig_rax -1).
func (v *vcpu) settle() error {
	m := v.m
	if !m.nf.held {
		return nil
	}
	// Bases the kernel set since the exit (arch_prctl) are not in what
	// the stop reports.
	fs, gs := m.host.Fs_base, m.host.Gs_base
	if err := m.halt(); err != nil {
		return err
	}
	if v.fsSet {
		m.host.Fs_base = fs
	}
	if v.gsSet {
		m.host.Gs_base = gs
	}
	var full hvf.Regs
	getRegs(&full, &m.host)
	merged := full
	if v.partial {
		mergeEdits(&merged, &v.regs, &v.shadow)
	}
	v.regs, v.shadow, v.partial = merged, full, false
	m.host.Orig_rax = ^uint64(0)
	m.hostStale = true
	return m.flushDeferred() // notify_defer.go
}

// mergeEdits copies into d the registers in regs that differ from shadow,
// and RAX.
func mergeEdits(d, regs, shadow *hvf.Regs) {
	pick := func(dst *uint64, r, s uint64) {
		if r != s {
			*dst = r
		}
	}
	pick(&d.R15, regs.R15, shadow.R15)
	pick(&d.R14, regs.R14, shadow.R14)
	pick(&d.R13, regs.R13, shadow.R13)
	pick(&d.R12, regs.R12, shadow.R12)
	pick(&d.RBP, regs.RBP, shadow.RBP)
	pick(&d.RBX, regs.RBX, shadow.RBX)
	pick(&d.R11, regs.R11, shadow.R11)
	pick(&d.R10, regs.R10, shadow.R10)
	pick(&d.R9, regs.R9, shadow.R9)
	pick(&d.R8, regs.R8, shadow.R8)
	pick(&d.RCX, regs.RCX, shadow.RCX)
	pick(&d.RDX, regs.RDX, shadow.RDX)
	pick(&d.RSI, regs.RSI, shadow.RSI)
	pick(&d.RDI, regs.RDI, shadow.RDI)
	pick(&d.RIP, regs.RIP, shadow.RIP)
	pick(&d.RFLAGS, regs.RFLAGS, shadow.RFLAGS)
	pick(&d.RSP, regs.RSP, shadow.RSP)
	d.RAX = regs.RAX
}

// LoadRegs implements hvf.RegsLoader: after a notification exit only the
// syscall's registers are known until this halts the stub.
func (v *vcpu) LoadRegs() error {
	if !v.partial {
		return nil
	}
	return v.settle()
}

// answer sends the held notification's result (RAX). ENOENT: a signal
// withdrew it meanwhile; the stop that follows completes the syscall with
// the result (fixWithdrawn).
func (v *vcpu) answer() error {
	m := v.m
	m.nf.held, v.partial = false, false
	m.disarm()
	d := m.nf.deferred
	m.nf.deferred = nil
	var err error
	if d != nil {
		err = notifyContinue(m.nf.fd, m.nf.id) // notify_defer.go
	} else {
		err = notifySend(m.nf.fd, m.nf.id, v.regs.RAX)
	}
	if err == unix.ENOENT {
		m.nf.lost, m.nf.hasLost, m.nf.lostOp = v.regs.RAX, true, d
		return nil
	}
	if err != nil {
		return fmt.Errorf("ptrace: answer the stub's syscall: %w", err)
	}
	return nil
}

// errRestartSys is -ERESTARTSYS as a syscall leaves it in RAX.
const errRestartSys = ^uint64(512 - 1)

// fixWithdrawn corrects the registers of a signal stop that ended a
// syscall the listener never answered: with a lost answer the syscall
// returns it; otherwise the syscall instruction is run again after the
// signal, as the host would restart it.
func (m *machine) fixWithdrawn() error {
	if m.nf.hasLost {
		m.nf.hasLost = false
		if d := m.nf.lostOp; d != nil {
			// The answer would have let the stub make the call
			// (notify_defer.go): it is made now.
			m.nf.lostOp = nil
			m.nf.deferred = d
			if err := m.flushDeferred(); err != nil {
				return err
			}
		}
		if m.host.Orig_rax != ^uint64(0) {
			m.host.Rax = m.nf.lost
			m.host.Orig_rax = ^uint64(0)
			m.hostStale = true
		}
		return nil
	}
	if m.host.Orig_rax != ^uint64(0) && m.host.Rax == errRestartSys {
		m.host.Rip -= 2
		m.host.Rax = m.host.Orig_rax
		m.host.Orig_rax = ^uint64(0)
		m.hostStale = true
	}
	return nil
}
