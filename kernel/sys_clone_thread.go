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
	"errors"
	"fmt"
	"runtime"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// threadStart is what a new thread's goroutine needs to start its vCPU.
type threadStart struct {
	task *Task
	// attach makes the vCPU (a new goroutine); nil when an idle one is
	// reused (thread_pool.go).
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
	idle := p.threads.pool.take() // thread_pool.go
	if idle == nil {
		st.attach, err = hvf.PrepareThreadVCPU(p.MM.machine)
		if err != nil {
			th.FreeTid(tid)
			t.Log.Warn("clone: cannot make a vCPU for a thread", "error", err)
			return 0, abi.EAGAIN
		}
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
	st.task = nt
	comm := t.Comm() // a new thread has its creator's name
	nt.thread.comm.Store(&comm)
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
	if idle != nil {
		idle <- &st
	} else {
		p.threads.others.Add(1)
		go runThread(&st, th)
	}
	if err := <-st.ready; err != nil {
		t.Log.Warn("clone: thread did not start", "tid", tid, "error", err)
		return 0, abi.EAGAIN
	}
	if t.Log.IsDebug() {
		t.Log.Debug("thread created", "tid", tid, "flags", fmt.Sprintf("%#x", f))
	}
	return uint64(tid), nil
}

// runThread is the goroutine of spawned threads: it owns its OS thread for
// good (the vCPU's tracer on ptrace) and runs the task of st, then, while
// the process lives, the tasks of later clones that reuse its vCPU
// (thread_pool.go).
func runThread(st *threadStart, th ThreadHost) {
	runtime.LockOSThread()
	// Never unlocked: the OS thread ends with the goroutine, as a tracer
	// thread must not serve another goroutine.
	p, log := st.task.Proc, st.task.Log
	defer p.threads.others.Done()
	cpu, err := st.attach()
	if err != nil {
		st.ready <- err
		st.task.threadGone(th)
		return
	}
	for st != nil {
		t := st.task
		log = t.Log
		if err := t.startOn(cpu, st); err != nil {
			st.ready <- err
			t.threadGone(th)
			break
		}
		st.ready <- nil
		reuse := t.runSpawned()
		t.threadGone(th)
		next := t.thread.next
		if next == nil {
			break
		}
		if !reuse {
			if late := p.threads.pool.cancel(next); late != nil {
				late.ready <- errThreadEnded
				late.task.threadGone(th)
			}
			break
		}
		st = <-next // nil: the process ended
	}
	if err := cpu.Close(); err != nil {
		log.Debug("thread vCPU close", "error", err)
	}
}

// errThreadEnded fails a clone handed to a vCPU whose goroutine ended.
var errThreadEnded = errors.New("thread vCPU ended before it could be reused")

// startOn loads st's registers into cpu, on the vCPU's own thread, and
// makes it t's.
func (t *Task) startOn(cpu hvf.VCPU, st *threadStart) error {
	*cpu.Regs() = st.regs
	cpu.SetFSBase(st.fs)
	cpu.SetGSBase(st.gs)
	if len(st.fp) > 0 {
		if err := cpu.SetFPState(st.fp); err != nil {
			return err
		}
	}
	t.CPU = cpu
	return nil
}

// runSpawned runs a spawned thread until its loop returns and reports
// whether its vCPU may serve another thread: the thread ended by its own
// exit(2) while the process lives on.
func (t *Task) runSpawned() (reuse bool) {
	p := t.Proc
	if done, _ := p.Exited(); done {
		return false // exit_group ran before the vCPU existed to be kicked
	}
	if _, err := t.Run(); err != nil {
		t.Log.Error("thread stopped by an internal error", "error", err)
		// The process cannot go on without one of its threads.
		p.exitGroup(uint32(abi.SIGKILL))
		return false
	}
	done, _ := p.Exited()
	return t.thread.exited && !t.thread.zap.Load() && !done
}

// threadGone forgets an ended spawned thread: signal target, group
// member, tid.
func (t *Task) threadGone(th ThreadHost) {
	t.unregister()
	t.Proc.removeThread(t)
	th.FreeTid(t.Tid)
	t.markStopped()
}
