package tests

// Threads (clone with CLONE_THREAD): C programs built with each compiler,
// run natively and under elfuse, compared on stdout and exit status. The
// programs print only what does not depend on scheduling: sums, counts,
// which thread ran a handler.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

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
// detached threads; memory mapped and unmapped from several threads;
// exit while threads block in waitpid, poll, select and read; a fault in
// one thread killing the process.
func TestThreadsCreateJoinExit(t *testing.T) {
	for _, pc := range threadCases("threads_basic.c", "basic", "thread_exit", "exit_group", "main_exits_first", "detached", "mmap_in_threads", "exit_while_blocked", "segv_in_thread") {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

// TestThreadsSyncAndSignals: a mutex and a condition variable under
// contention between four threads, a barrier, pthread_kill and tgkill
// reaching the target thread's handler (also from another process), a
// process-directed signal taken by the thread that does not block it, a
// signal thread in sigwait, per-thread masks, and nanosleep, read and futex
// interrupted in the thread the signal was sent to.
func TestThreadsSyncAndSignals(t *testing.T) {
	modes := []string{"mutex", "condvar", "barrier", "pthread_kill", "tgkill", "remote_tgkill",
		"remote_kill_tid", "process_signal", "sigwait_thread", "masks", "interrupt_nanosleep", "interrupt_read", "interrupt_futex"}
	for _, pc := range threadCases("threads_sync.c", modes...) {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

// TestThreadsInSysroot: Debian programs that start threads: sort
// --parallel, and python3 with threading (worker threads under a lock, a
// condition variable between producers and a consumer, an Event).
func TestThreadsInSysroot(t *testing.T) {
	root := debianSysroot(t)
	cases := []chrootCase{
		// sort sorts a large in-memory buffer with --parallel threads.
		{name: "sort_parallel", args: []string{"bash", "-c", "seq 1 300000 | tac | sort --parallel=4 -S 64M -n | md5sum"}},
		{name: "python_threading", args: []string{"python3", "-c", `
import threading
lock = threading.Lock()
total = [0]
def work(n):
    s = sum(i * n for i in range(20000))
    with lock:
        total[0] += s
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
cv = threading.Condition()
items = []
def prod(k):
    for i in range(100):
        with cv:
            items.append(k * 1000 + i)
            cv.notify()
ps = [threading.Thread(target=prod, args=(k,)) for k in range(3)]
for p in ps: p.start()
got = []
while len(got) < 300:
    with cv:
        while not items:
            cv.wait()
        got.append(items.pop())
for p in ps: p.join()
ev = threading.Event()
t = threading.Thread(target=ev.wait)
t.start(); ev.set(); t.join()
print("total", total[0], "items", sum(got), len(got), "threads left", threading.active_count())
`}},
	}
	runChrootCases(t, func(*testing.T) string { return root }, cases, false)
}

// goThreadsProgram is a static Go program: the Go runtime starts several
// threads, parks them on futexes, and preempts CPU-bound goroutines with
// tgkill(SIGURG).
const goThreadsProgram = `package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	ch := make(chan int, 16)
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				ch <- p*1000 + i
			}
		}(p)
	}
	go func() { wg.Wait(); close(ch) }()
	sum, n := 0, 0
	for v := range ch {
		sum += v
		n++
	}
	// CPU-bound goroutines need async preemption (SIGURG by tgkill).
	done := make(chan int)
	for k := 0; k < 4; k++ {
		go func() {
			x := 0
			for i := 0; i < 50000000; i++ {
				x += i & 7
			}
			done <- x
		}()
	}
	t := 0
	for k := 0; k < 4; k++ {
		t += <-done
	}
	time.Sleep(10 * time.Millisecond)
	fmt.Println("sum", sum, "n", n, "spin", t)
}
`

// TestThreadsStaticGoProgram: a static Go binary (CGO_ENABLED=0) with
// channels between goroutines on four Ps and preempted CPU-bound loops.
func TestThreadsStaticGoProgram(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build the guest program")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goThreadsProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gothreads\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gothreads")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	testutil.RunCase(t, elfuse, testutil.Case{Name: "go_threads", Args: []string{bin}})
}

// TestThreadsExecAndFork: execve from the main thread and from another
// thread while others run (the new image has one thread, whose id is the
// process id, and can make threads again), and fork from a threaded
// process (the child has one thread and its memory is one instant of the
// parent's while another thread writes).
func TestThreadsExecAndFork(t *testing.T) {
	for _, pc := range threadCases("threads_exec.c", "exec_main", "exec_thread", "fork", "fork_from_thread", "fork_snapshot") {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}

// TestThreadsProcTaskDir: /proc/self/task lists every live thread,
// /proc/self/status counts them, and a thread's task/<tid>/stat and status
// name it.
func TestThreadsProcTaskDir(t *testing.T) {
	runProgram(t, progCase{src: "threads_proc.c"})
}

// TestThreadsNames: PR_SET_NAME names the calling thread only, the
// process's /proc files show the main thread's name and task/TID files each
// thread's, a new thread and a fork child take their creator's name, and
// get_robust_list reads another thread's list head.
func TestThreadsNames(t *testing.T) {
	runProgram(t, progCase{src: "threads_names.c"})
}

// TestThreadsTimers: POSIX timers aimed at threads: glibc's SIGEV_THREAD
// (its helper thread is named by SIGEV_THREAD_ID) and SIGEV_THREAD_ID at
// a worker thread, whose handler must run there.
func TestThreadsTimers(t *testing.T) {
	for _, pc := range threadCases("threads_timer.c", "sigev_thread", "thread_id") {
		t.Run(pc.name, func(t *testing.T) { runProgram(t, pc) })
	}
}
