package kernel

// execve in a process with several threads (Linux's de_thread): every
// other thread ends first, and the caller carries on as the process's only
// thread with the process's id as its thread id.
//
// The others are zapped: a SIGKILL that ends the thread alone (DeliverSignals
// checks the zap), a cut host wait and a kick; their loops return as after
// exit(2) but without clear_child_tid. The leader's goroutine is the
// guestproc's main one and its OS thread traces the stub's first thread, so
// when another thread execs, the leader does not end: it parks as a leader
// that called exit(2) does, until the process ends, and the caller takes
// the process id as its thread id.

import "github.com/elfuse/elfuse/kernel/abi"

// deThread ends every thread of t's process but t and waits until none of
// them uses its vCPU any more.
func (t *Task) deThread() {
	p := t.Proc
	// Again until none is left: a thread zapped in the middle of a clone
	// may still add one.
	for {
		var zapped []*Task
		for _, o := range p.Threads() {
			if o == t {
				continue
			}
			o.thread.zap.Store(true)
			o.SendSignal(abi.SIGKILL, &abi.Siginfo{Signo: abi.SIGKILL, Code: abi.SI_KERNEL})
			o.interruptWait()
			if cpu := o.CPU; cpu != nil {
				cpu.Kick()
			}
			zapped = append(zapped, o)
		}
		if len(zapped) == 0 {
			break
		}
		for _, o := range zapped {
			if o.thread.stopped != nil {
				<-o.thread.stopped
			}
			p.removeThread(o)
		}
	}
	if pid := p.pid(); t.thread.spawned && t.Tid != pid {
		old := t.Tid
		t.Tid = pid
		t.Log = t.Log.With("tid", pid)
		if th, ok := p.Kernel.Host.(ThreadHost); ok {
			th.FreeTid(old)
		}
		t.Log.Debug("execve from a thread: it takes the process id", "old_tid", old)
	}
}
