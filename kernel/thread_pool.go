package kernel

// Reusing the vCPUs of ended threads. Starting a thread's vCPU is the bulk
// of clone's cost on the ptrace backend (a stub thread cloned and attached,
// a new OS thread for the tracer: ~1 ms here), and programs that start
// short-lived threads over and over pay it each time. When a spawned thread
// ends by its own exit(2) while the process lives on, its goroutine keeps
// the vCPU and waits here (reserved before clear_child_tid wakes a joiner);
// the next clone hands it the new thread's registers instead of making a
// vCPU. At most poolMax wait; the process's
// end (exitGroup) releases them all, so the leader's wait for the other
// goroutines covers them.

import "sync"

// poolMax bounds the idle vCPUs a process keeps.
const poolMax = 8

// threadPool is the set of idle thread goroutines of a process.
type threadPool struct {
	mu     sync.Mutex
	idle   []chan *threadStart
	closed bool
}

// take returns the channel of an idle thread goroutine, which must then be
// sent a threadStart, or nil when none waits.
func (tp *threadPool) take() chan *threadStart {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	n := len(tp.idle)
	if n == 0 {
		return nil
	}
	ch := tp.idle[n-1]
	tp.idle = tp.idle[:n-1]
	return ch
}

// reserve puts the goroutine of a thread that is ending (exit(2), while
// others live) in the pool at once, before pthread_join can return and
// clone again, and returns the channel its next thread will come on; nil
// when enough goroutines wait or the process ended.
func (tp *threadPool) reserve() chan *threadStart {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.closed || len(tp.idle) >= poolMax {
		return nil
	}
	ch := make(chan *threadStart, 1)
	tp.idle = append(tp.idle, ch)
	return ch
}

// cancel withdraws a reservation whose goroutine cannot serve after all.
// It returns the thread already handed to it, if any, which the caller
// must fail.
func (tp *threadPool) cancel(ch chan *threadStart) *threadStart {
	tp.mu.Lock()
	for i, c := range tp.idle {
		if c == ch {
			tp.idle = append(tp.idle[:i], tp.idle[i+1:]...)
			tp.mu.Unlock()
			return nil
		}
	}
	tp.mu.Unlock()
	// Taken (its sender sends right away) or closed (nil).
	return <-ch
}

// close releases every idle goroutine (they close their vCPUs and end)
// and refuses later ones.
func (tp *threadPool) close() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.closed = true
	for _, ch := range tp.idle {
		close(ch)
	}
	tp.idle = nil
}
