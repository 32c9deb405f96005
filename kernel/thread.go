package kernel

// Thread groups. A Process starts with one Task, its leader, which the
// guestproc runs on its main OS thread; clone(CLONE_THREAD) adds Tasks, each
// with its own vCPU of the same Machine run by a goroutine locked to an OS
// thread of its own (sys_clone_thread.go).
//
// Ending:
//   - exit(2) of one thread (exitThread) writes 0 to its clear_child_tid
//     word and wakes a futex waiter there (pthread_join), then its run loop
//     returns. The last thread to exit ends the process with its status.
//   - exit_group(2), a fatal signal or the last exit (Process.exitGroup)
//     marks the process exited and kicks every other thread: each run loop
//     returns at its next exit.
//   - The leader's run loop never returns before the process has ended and
//     every other thread's goroutine is done (their vCPUs are closed), so
//     that the guestproc releases the Machine only once nothing uses it.
//     A leader that called exit(2) while other threads run waits so.
//
// Lock order: Process.mu before threadGroup.mu; SignalHandlers.mu is never
// held with threadGroup.mu.

import (
	"sync"
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel/abi"
)

// ThreadHost is the part of Host that hands out thread ids from the pid
// namespace. A Host without it makes clone(CLONE_THREAD) fail with ENOSYS.
type ThreadHost interface {
	// NewTid allocates a thread id for a new thread of this process.
	NewTid() (int32, error)
	// FreeTid releases a thread id once its thread has ended.
	FreeTid(tid int32)
}

// threadGroup is a process's set of live threads.
type threadGroup struct {
	// multi is set once the process has had a second thread: until then
	// nothing here is consulted on any hot path.
	multi atomic.Bool

	mu sync.Mutex
	// live are the threads that have not exited, leader first.
	live []*Task
	// ended is closed when the process ends (exitGroup).
	ended chan struct{}
	// others counts the running goroutines of non-leader threads.
	others sync.WaitGroup
	// stop holds the others still for a fork (thread_stop.go).
	stop stopState
	// pool keeps the vCPUs of ended threads for the next ones
	// (thread_pool.go).
	pool threadPool
}

// threadState is a Task's part of the thread machinery.
type threadState struct {
	// spawned marks a thread made by clone(CLONE_THREAD): not the leader.
	spawned bool
	// comm is a spawned thread's own name (thread_comm.go).
	comm atomic.Pointer[string]
	// robust is RobustList for get_robust_list from another thread.
	robust atomic.Uint64
	// exited is set by exit(2) of this thread; its run loop returns.
	exited bool
	// zap is set when another thread's execve ends this one (de_thread,
	// thread_exec.go); its run loop returns as after exit(2), without
	// clear_child_tid.
	zap atomic.Bool
	// stopped is closed once the thread's loop no longer uses its vCPU
	// (a spawned thread's goroutine has ended; the leader waits in
	// threadEnd). nil for a process that never had a second thread.
	stopped     chan struct{}
	stoppedDone bool // guarded by threadGroup.mu
	// running is set while the vCPU may be in the guest (thread_stop.go).
	running atomic.Bool
	// next is where the vCPU of a spawned thread that exited waits for
	// the next thread to run (thread_pool.go); nil: it ends.
	next chan *threadStart
}

// initLocked sets g up for its first extra thread. Preconditions: g.mu held.
func (g *threadGroup) initLocked(leader *Task) {
	if g.ended != nil {
		return
	}
	g.ended = make(chan struct{})
	g.live = []*Task{leader}
	leader.thread.stopped = make(chan struct{})
}

// addThread records a new thread of p created by the running thread from.
func (p *Process) addThread(from, t *Task) {
	g := &p.threads
	g.mu.Lock()
	// The first extra thread is made by the only one, the leader.
	g.initLocked(from)
	t.thread.stopped = make(chan struct{})
	g.live = append(g.live, t)
	g.mu.Unlock()
	g.multi.Store(true)
}

// removeThread forgets t and reports how many threads remain.
func (p *Process) removeThread(t *Task) int {
	g := &p.threads
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range g.live {
		if x == t {
			g.live = append(g.live[:i], g.live[i+1:]...)
			break
		}
	}
	return len(g.live)
}

// Threads returns the live threads of p, leader first while it lives;
// empty for a process that never had a second thread. The slice is a
// copy.
func (p *Process) Threads() []*Task {
	g := &p.threads
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Task(nil), g.live...)
}

// threaded reports whether p has ever had more than one thread.
func (p *Process) threaded() bool { return p.threads.multi.Load() }

// stopThreads makes every thread of an ended process notice soon: its host
// wait is cut short and its vCPU kicked. Called once by exitGroup.
func (p *Process) stopThreads() {
	if !p.threaded() {
		return
	}
	g := &p.threads
	g.mu.Lock()
	live := append([]*Task(nil), g.live...)
	if g.ended != nil {
		close(g.ended)
	}
	g.mu.Unlock()
	g.pool.close()
	for _, t := range live {
		// As Linux's zap_other_threads: a pending SIGKILL ends any
		// wait for a signal (pause, sigsuspend) and any host wait.
		t.SendSignal(abi.SIGKILL, &abi.Siginfo{Signo: abi.SIGKILL, Code: abi.SI_KERNEL})
		t.interruptWait()
		if cpu := t.CPU; cpu != nil {
			cpu.Kick()
		}
	}
}

// exitThread ends t alone, as exit(2) does in a process with other
// threads: robust futexes are released, clear_child_tid is cleared and
// woken, and the last thread out ends the process with status.
func (t *Task) exitThread(status uint32) {
	t.exitRobustList()
	if t.thread.spawned {
		t.thread.next = t.Proc.threads.pool.reserve()
	}
	t.clearChildTID()
	t.thread.exited = true
	t.unregister()
	if t.Proc.removeThread(t) == 0 {
		t.Proc.exitGroup(status)
	}
}

// clearChildTID writes 0 to the clear_child_tid word and wakes one waiter
// there, as Linux's mm_release does for a thread that ends (pthread_join
// waits on it). Linux wakes with a shared futex; the word lives in a
// MAP_SHARED memfd here, where host private and shared keys differ, so
// both are woken.
func (t *Task) clearChildTID() {
	addr := t.ClearTID
	if addr == 0 {
		return
	}
	t.ClearTID = 0
	var zero [4]byte
	if _, err := t.CopyOut(addr, zero[:]); err != nil {
		return
	}
	h, err := t.futexHostAddr(addr, false)
	if err != nil {
		return
	}
	hostFutexOp(h, abi.FUTEX_WAKE, 1, 0, 0, 0)
	hostFutexOp(h, abi.FUTEX_WAKE|abi.FUTEX_PRIVATE_FLAG, 1, 0, 0, 0)
}

// unregister removes t from its process's signal targets and forgets its
// wait state.
func (t *Task) unregister() {
	s := t.Proc.sigHandlers()
	s.mu.Lock()
	if t.SigState.registered {
		delete(s.tasks, t)
		t.SigState.registered = false
	}
	// A signal queued for this thread alone dies with it; the process
	// ones stay for the others.
	s.mu.Unlock()
	x := t.Proc.ext()
	x.mu.Lock()
	delete(x.waits, t)
	x.mu.Unlock()
}

// threadEnd is what Run returns once t's own exit(2) ran: a spawned
// thread's loop just ends; the leader waits for the process to end and
// for the other threads' goroutines, and returns the process's status.
func (t *Task) threadEnd() (uint32, error) {
	if t.thread.zap.Load() {
		t.unregister()
		t.Proc.removeThread(t)
	}
	if t.thread.spawned {
		return 0, nil
	}
	g := &t.Proc.threads
	g.mu.Lock()
	ended := g.ended
	g.mu.Unlock()
	t.markStopped()
	if ended != nil {
		<-ended
	}
	return t.leaderDone()
}

// markStopped closes t's stopped channel (once).
func (t *Task) markStopped() {
	g := &t.Proc.threads
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.thread.stopped != nil && !t.thread.stoppedDone {
		t.thread.stoppedDone = true
		close(t.thread.stopped)
	}
}

// leaderDone waits, in the leader's run loop, for the goroutines of the
// other threads to end, then returns the process's status.
func (t *Task) leaderDone() (uint32, error) {
	if t.Proc.threaded() && !t.thread.spawned {
		t.Proc.threads.others.Wait()
	}
	_, status := t.Proc.Exited()
	return status, nil
}

// taskByTid returns the live thread of p with guest id tid.
func (p *Process) taskByTid(tid int32) *Task {
	if !p.threaded() {
		return nil
	}
	g := &p.threads
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.live {
		if t.Tid == tid {
			return t
		}
	}
	return nil
}

// SignalThread queues a thread-directed signal (tgkill from another
// process) for thread tid of p and wakes it; unknown tids fall back to
// SignalFrom's choice.
func (p *Process) SignalThread(info *abi.Siginfo, tid int32) {
	t := p.taskByTid(tid)
	if t == nil || !validSignal(int(info.Signo)) {
		p.SignalFrom(info, true)
		return
	}
	t.SendSignal(int(info.Signo), info)
	t.interruptWait()
	if cpu := t.CPU; cpu != nil {
		cpu.Kick()
	}
}

// wakeOthersFor makes every thread but by that does not block sig notice
// it soon (a process-directed signal queued by one of its threads).
func (p *Process) wakeOthersFor(sig int, by *Task) {
	s := p.Signals
	s.mu.Lock()
	var wake []*Task
	for t := range s.tasks {
		if t != by && !t.blocksLocked(sig) {
			wake = append(wake, t)
		}
	}
	s.mu.Unlock()
	for _, t := range wake {
		t.interruptWait()
		if cpu := t.CPU; cpu != nil {
			cpu.Kick()
		}
	}
}

// signalThread queues sig for t alone, sent by another thread of its
// process (tgkill, pthread_kill), and makes t notice it.
func (t *Task) signalThread(sig int, info *abi.Siginfo) error {
	if sig < 0 || sig > abi.NSIG {
		return abi.EINVAL
	}
	if sig == 0 {
		return nil
	}
	info.Signo = int32(sig)
	if err := t.queueSignal(info, false); err != nil {
		return err
	}
	if cpu := t.CPU; cpu != nil {
		cpu.Kick()
	}
	return nil
}
