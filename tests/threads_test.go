package tests

// Threads (clone with CLONE_THREAD): C programs built with each compiler,
// run natively and under elfuse, compared on stdout and exit status. The
// programs print only what does not depend on scheduling: sums, counts,
// which thread ran a handler.

import "testing"

func threadCases(src string, modes ...string) []progCase {
	cs := make([]progCase, 0, len(modes))
	for _, m := range modes {
		cs = append(cs, progCase{name: m, src: src, args: []string{m}})
	}
	return cs
}

// TestThreadsCreateJoinExit: pthread_create and pthread_join over a shared
// array, distinct thread ids, pthread_exit's value reaching join, exit()
// from a thread ending every thread, the main thread leaving first, and
// detached threads.
func TestThreadsCreateJoinExit(t *testing.T) {
	for _, pc := range threadCases("threads_basic.c", "basic", "thread_exit", "exit_group", "main_exits_first", "detached") {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

// TestThreadsSyncAndSignals: a mutex and a condition variable under
// contention between four threads, a barrier, pthread_kill and tgkill
// reaching the target thread's handler (also from another process), a
// process-directed signal taken by the thread that does not block it,
// per-thread masks, and nanosleep, read and futex interrupted in the
// thread the signal was sent to.
func TestThreadsSyncAndSignals(t *testing.T) {
	modes := []string{"mutex", "condvar", "barrier", "pthread_kill", "tgkill", "remote_tgkill",
		"remote_kill_tid", "process_signal", "masks", "interrupt_nanosleep", "interrupt_read", "interrupt_futex"}
	for _, pc := range threadCases("threads_sync.c", modes...) {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}
