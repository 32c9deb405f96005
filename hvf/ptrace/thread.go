package ptrace

// Guest threads: one stub thread per vCPU.
//
// A ptrace tracee answers only the thread that attached it, and each vCPU
// runs on its own locked OS thread, so every guest thread has a stub
// thread of its own traced by its vCPU's OS thread. The machine of the
// stub's first thread (the leader, made by NewMachine) is the
// hvf.Machine; each later stub thread has a view: a machine value with
// the same stub but its own tracee, tracer thread and register state,
// sharing the stub-side descriptor cache and the thread registry.
//
// Creating one (hvf.ThreadMachine):
//
//	creating vCPU's thread                 new vCPU's thread
//	PrepareVCPU: clone gadget in its own
//	  stub thread (stopped in a syscall
//	  exit): clone(CLONE_VM|CLONE_THREAD
//	  ...); the parent path traps, the
//	  child parks in a pause loop
//	                                        attach: PTRACE_SEIZE the new
//	                                          stub thread, PTRACE_INTERRUPT,
//	                                          wait for the stop; Run loads
//	                                          the guest registers
//
// The parked child never executes an int3: untraced, it would kill the
// stub. Memory operations (Map, Protect, Unmap, Apply) run on the stub
// thread of the calling OS thread (caller): the caller's own stub thread
// is the one stopped in the syscall being served. The kernel serialises
// them (MM.mu), which also guards the shared descriptor cache.
//
// A view's vCPU Close ends its stub thread with an injected exit and
// reaps it, so that its tracer thread can end without PTRACE_O_EXITKILL
// taking the whole stub with it.

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// cloneCode is the clone gadget:
//
//	    syscall                 ; clone(flags, 0, 0, 0, 0)
//	    test rax, rax
//	    jz 1f
//	    int3                    ; the parent (or an error) stops here
//	1:  mov eax, 34             ; the child: pause() until attached
//	    syscall
//	    jmp 1b
var cloneCode = []byte{
	0x0f, 0x05,
	0x48, 0x85, 0xc0,
	0x74, 0x01,
	0xcc,
	0xb8, 0x22, 0x00, 0x00, 0x00,
	0x0f, 0x05,
	0xeb, 0xf7,
}

const (
	cloneAddr = stubBase + cloneOff
	// cloneTrapRIP is RIP after the clone gadget's int3 has trapped.
	cloneTrapRIP = cloneAddr + 8

	stubCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM
)

// stubThreads is the registry of a stub's thread views.
type stubThreads struct {
	mu    sync.Mutex
	views map[int]*machine // by tracer thread id
	// n counts the stub threads besides the leader, from the clone
	// that makes one (before its view exists: a process-directed kick
	// could then reach the parked clone and be lost) to its end. 0 keeps
	// every machine operation on the leader without a gettid.
	n atomic.Int32
}

// root returns the leader machine of m's stub.
func (m *machine) root() *machine {
	if m.leader != nil {
		return m.leader
	}
	return m
}

// stubPid is the stub's process id (its leader thread's id).
func (m *machine) stubPid() int { return m.root().pid }

// caller returns the machine whose stub thread the calling OS thread
// traces: m itself while the stub has one thread.
func (m *machine) caller() *machine {
	if m.threads == nil || m.threads.n.Load() == 0 {
		return m
	}
	tid := unix.Gettid()
	r := m.root()
	if tid == r.tid {
		return r
	}
	m.threads.mu.Lock()
	v := m.threads.views[tid]
	m.threads.mu.Unlock()
	if v == nil {
		return m // checkThread explains
	}
	return v
}

// PrepareVCPU implements hvf.ThreadMachine: it clones a stub thread from
// the calling vCPU's own (which must be stopped in an exit) and returns the
// function the new vCPU's locked OS thread calls to attach it.
func (m *machine) PrepareVCPU() (func() (hvf.VCPU, error), error) {
	src := m.caller()
	if err := src.checkThread(); err != nil {
		return nil, err
	}
	if err := src.sync(); err != nil {
		return nil, err
	}
	r := src.host
	r.Rip = cloneAddr
	r.Rax = unix.SYS_CLONE
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8 = stubCloneFlags, 0, 0, 0, 0
	r.Orig_rax = ^uint64(0)
	m.threads.n.Add(1)
	m.root().nf.threaded = true // notify.go
	if err := src.runGadget(&r, cloneTrapRIP, "clone a stub thread"); err != nil {
		m.threads.n.Add(-1)
		return nil, err
	}
	if failed(r.Rax) {
		m.threads.n.Add(-1)
		return nil, fmt.Errorf("ptrace: clone a stub thread: %w", errnoOf(r.Rax))
	}
	tid := int(r.Rax)
	root := m.root()
	return func() (hvf.VCPU, error) {
		c, err := root.attachThread(tid)
		if err != nil {
			// The stub thread stays parked in pause, untraced.
			root.threads.n.Add(-1)
			root.log.Warn("stub thread not attached; it stays parked", "stub_tid", tid, "error", err)
		}
		return c, err
	}, nil
}

// attachThread makes the calling OS thread the tracer of stub thread tid,
// parked by the clone gadget, and returns its vCPU. The caller must stay
// locked to its OS thread for the life of the vCPU.
func (m *machine) attachThread(tid int) (hvf.VCPU, error) {
	me := unix.Gettid()
	opts := uintptr(unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL)
	if err := ptraceReq(unix.PTRACE_SEIZE, tid, opts); err != nil {
		return nil, fmt.Errorf("ptrace: seize stub thread %d: %w", tid, err)
	}
	v := &machine{
		log:          m.log.With("stub_tid", tid),
		tid:          me,
		pid:          tid,
		tracerPid:    m.tracerPid,
		limit:        m.limit,
		files:        m.files,
		sock:         -1,
		pidfd:        -1,
		noProcReopen: m.noProcReopen,
		leader:       m,
		threads:      m.threads,
		aff:          affinity{cpu: -1},
		nf:           notifyState{fd: -1, kickFd: -1},
	}
	if err := unix.PtraceInterrupt(tid); err != nil {
		return nil, fmt.Errorf("ptrace: interrupt stub thread %d: %w", tid, err)
	}
	for {
		ws, err := v.wait()
		if err != nil {
			return nil, fmt.Errorf("ptrace: stub thread %d: %w", tid, err)
		}
		if ws.Stopped() {
			break
		}
	}
	if err := unix.PtraceGetRegs(tid, &v.host); err != nil {
		return nil, fmt.Errorf("ptrace: get stub thread %d registers: %w", tid, err)
	}
	c := &vcpu{m: v}
	v.vcpu = c
	// Run writes the guest's registers (never restarting the pause).
	v.host.Orig_rax = ^uint64(0)
	v.hostStale = true
	t := m.threads
	t.mu.Lock()
	if t.views == nil {
		t.views = make(map[int]*machine)
	}
	t.views[me] = v
	t.mu.Unlock()
	v.log.Debug("stub thread attached", "tracer_tid", me)
	return c, nil
}

// closeThread ends a view's stub thread with an injected exit and reaps
// it, then forgets the view. Called on the view's tracer thread.
func (m *machine) closeThread() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	defer func() {
		t := m.threads
		t.mu.Lock()
		if t.views[m.tid] == m {
			delete(t.views, m.tid)
			t.n.Add(-1)
		}
		t.mu.Unlock()
	}()
	if m.exited.Load() {
		return nil
	}
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.sync(); err != nil {
		return err
	}
	r := m.host
	r.Rip = gadgetAddr
	r.Rax = unix.SYS_EXIT
	r.Rdi = 0
	r.Orig_rax = ^uint64(0)
	if err := unix.PtraceSetRegs(m.pid, &r); err != nil {
		return m.ptraceErr("exit stub thread: set registers", err)
	}
	sig := 0
	for {
		if err := unix.PtraceCont(m.pid, sig); err != nil {
			if err == unix.ESRCH {
				// Gone already (dying); reap below.
				m.reapThread()
				return nil
			}
			return fmt.Errorf("ptrace: exit stub thread %d: %w", m.pid, err)
		}
		if _, err := m.wait(); err != nil {
			return nil // it exited (or the whole stub did)
		}
	}
}

// reapThread waits for a dying stub thread's exit.
func (m *machine) reapThread() {
	for !m.exited.Load() {
		if _, err := m.wait(); err != nil {
			return
		}
	}
}
