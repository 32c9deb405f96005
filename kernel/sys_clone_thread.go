package kernel

// clone(CLONE_THREAD): a new thread of the calling process. It gets a tid
// from the supervisor's pid namespace (ThreadHost), a vCPU of the same
// Machine (hvf.PrepareThreadVCPU: on ptrace a stub thread cloned by the
// caller's own), the caller's registers with RAX 0 and the new stack and
// TLS, and a goroutine locked to an OS thread of its own that runs it.
//
//	caller's goroutine (in clone)           new goroutine (locked)
//	NewTid; PrepareThreadVCPU
//	go runThread ─────────────────────────▶ attach the vCPU, load registers
//	wait for ready ◀──────────────────────── ready (or the error)
//	SETTID writes; return tid                Run until exit / exit_group
//	                                         close the vCPU, FreeTid

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// threadStart is what a new thread's goroutine needs to start its vCPU.
type threadStart struct {
	attach func() (hvf.VCPU, error)
	regs   hvf.Regs
	fs, gs uint64
	fp     []byte
	ready  chan error
}

// cloneThread creates a thread of t's process (clone with CLONE_THREAD).
func (t *Task) cloneThread(c cloneArgs) (uint64, error) {
	f := c.flags
	// Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
	if f&abi.CLONE_SIGHAND == 0 || f&abi.CLONE_VM == 0 {
		return 0, abi.EINVAL
	}
	if f&(abi.CLONE_FS|abi.CLONE_FILES) != abi.CLONE_FS|abi.CLONE_FILES {
		t.logOnce("clone: a thread without CLONE_FS or CLONE_FILES shares them anyway", "flags", f)
	}
	p := t.Proc
	th, ok := p.Kernel.Host.(ThreadHost)
	if !ok || p.MM == nil {
		t.logOnce("clone: threads need a host that allocates thread ids; returning ENOSYS")
		return 0, abi.ENOSYS
	}
	tid, err := th.NewTid()
	if err != nil {
		return 0, err
	}
	st := threadStart{ready: make(chan error, 1)}
	st.attach, err = hvf.PrepareThreadVCPU(p.MM.machine)
	if err != nil {
		th.FreeTid(tid)
		t.Log.Warn("clone: cannot make a vCPU for a thread", "error", err)
		return 0, abi.EAGAIN
	}
	st.regs = *t.CPU.Regs()
	st.regs.RAX = 0
	if c.stack != 0 {
		st.regs.RSP = uint64(c.stack)
	}
	st.fs, st.gs = t.CPU.FSBase(), t.CPU.GSBase()
	if f&abi.CLONE_SETTLS != 0 {
		if c.tls >= uint64(abi.TASK_SIZE_MAX) {
			th.FreeTid(tid)
			return 0, abi.EPERM
		}
		st.fs = c.tls
	}
	if fp, err := t.CPU.FPState(); err == nil {
		st.fp = fp
	}
	nt := &Task{
		Proc:      p,
		Log:       t.Log.With("tid", tid),
		Tid:       tid,
		SigMask:   t.SigMask,
		inSyscall: -1,
		OrigRAX:   noSyscall,
		thread:    threadState{spawned: true},
	}
	if f&abi.CLONE_CHILD_CLEARTID != 0 {
		nt.ClearTID = c.childTID
	}
	// The tid words are written before the thread runs, as Linux does
	// (parent_tid in copy_process, child_tid in the child before it
	// returns to user space; the memory is shared).
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(tid))
	if f&abi.CLONE_PARENT_SETTID != 0 && c.parentTID != 0 {
		t.CopyOut(c.parentTID, b[:])
	}
	if f&abi.CLONE_CHILD_SETTID != 0 && c.childTID != 0 {
		t.CopyOut(c.childTID, b[:])
	}
	p.addThread(t, nt)
	nt.register()
	go nt.runThread(&st, th)
	if err := <-st.ready; err != nil {
		t.Log.Warn("clone: thread did not start", "tid", tid, "error", err)
		return 0, abi.EAGAIN
	}
	if t.Log.IsDebug() {
		t.Log.Debug("thread created", "tid", tid, "flags", fmt.Sprintf("%#x", f))
	}
	return uint64(tid), nil
}

// runThread is the goroutine of a spawned thread: it owns its OS thread
// for good (the vCPU's tracer on ptrace), runs the task and cleans up.
func (t *Task) runThread(st *threadStart, th ThreadHost) {
	runtime.LockOSThread()
	// Never unlocked: the OS thread ends with the goroutine, as a tracer
	// thread must not serve another goroutine.
	p := t.Proc
	defer func() {
		t.unregister()
		p.removeThread(t)
		th.FreeTid(t.Tid)
		t.markStopped()
		p.threads.others.Done()
	}()
	cpu, err := st.attach()
	if err == nil {
		*cpu.Regs() = st.regs
		cpu.SetFSBase(st.fs)
		cpu.SetGSBase(st.gs)
		if len(st.fp) > 0 {
			err = cpu.SetFPState(st.fp)
		}
		if err != nil {
			cpu.Close()
		}
	}
	if err != nil {
		st.ready <- err
		return
	}
	t.CPU = cpu
	st.ready <- nil
	if done, _ := p.Exited(); done {
		// exit_group ran before the vCPU existed to be kicked.
	} else if _, err := t.Run(); err != nil {
		t.Log.Error("thread stopped by an internal error", "error", err)
		// The process cannot go on without one of its threads.
		p.exitGroup(uint32(abi.SIGKILL))
	}
	if err := cpu.Close(); err != nil {
		t.Log.Debug("thread vCPU close", "error", err)
	}
}
