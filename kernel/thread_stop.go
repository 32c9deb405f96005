package kernel

// Stopping the other threads of a process while one takes a snapshot of its
// memory (fork): Linux's fork copies the address space at one instant, so a
// child never sees one page from before and another from after an update
// another thread made in between. Here the copy takes a while, so the
// forking thread stops the others first:
//
//	forking thread                 every other thread's run loop
//	stopping = true                before entering the guest: running = true,
//	kick each running vCPU           then, if stopping: running = false, park
//	wait until none is running     after the vCPU returns: running = false
//	snapshot
//	stopping = false, close resume ─▶ parked threads go on
//
// A thread blocked in a syscall is not running guest code and is not waited
// for; it parks when its syscall returns. Only processes that have had a
// second thread pay for any of this (one atomic load per exit otherwise).

import (
	"sync"
	"sync/atomic"
	"time"
)

// stopState is the part of threadGroup that stops threads.
type stopState struct {
	// stopping is set while a thread holds the others stopped.
	stopping atomic.Bool
	// serial admits one stopper at a time.
	serial sync.Mutex
	// resume is closed when the stopper is done; guarded by
	// threadGroup.mu.
	resume chan struct{}
}

// enterGuest is called by a threaded process's run loop before each entry
// into the guest: it marks the thread running and parks it while another
// thread holds the process stopped.
func (t *Task) enterGuest() {
	g := &t.Proc.threads
	for {
		t.thread.running.Store(true)
		if !g.stop.stopping.Load() {
			return
		}
		t.thread.running.Store(false)
		g.mu.Lock()
		resume, ended := g.stop.resume, g.ended
		g.mu.Unlock()
		if resume == nil {
			continue
		}
		select {
		case <-resume:
		case <-ended:
			return // the run loop notices the end at the next exit
		}
	}
}

// leftGuest is called by a threaded process's run loop when its vCPU
// returned.
func (t *Task) leftGuest() { t.thread.running.Store(false) }

// stopOthers stops every other thread of t's process in the sense above
// and returns the function that lets them go on. A no-op for a process
// that never had a second thread.
func (t *Task) stopOthers() (resume func()) {
	p := t.Proc
	if !p.threaded() {
		return func() {}
	}
	g := &p.threads
	g.stop.serial.Lock()
	g.mu.Lock()
	g.stop.resume = make(chan struct{})
	g.mu.Unlock()
	g.stop.stopping.Store(true)
	for _, o := range p.Threads() {
		if o == t {
			continue
		}
		if cpu := o.CPU; cpu != nil && o.thread.running.Load() {
			cpu.Kick()
		}
		for o.thread.running.Load() {
			if done, _ := p.Exited(); done {
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	return func() {
		g.stop.stopping.Store(false)
		g.mu.Lock()
		close(g.stop.resume)
		g.stop.resume = nil
		g.mu.Unlock()
		g.stop.serial.Unlock()
	}
}
