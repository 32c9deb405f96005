package kernel

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// guestPipe makes a pipe in the guest and returns its read and write ends.
func guestPipe(t *testing.T, task *Task, mem *fileTestMem, flags uint64) (r, w uint64) {
	t.Helper()
	arr := mem.alloc(8)
	mustSys(t, task, abi.SYS_PIPE2, uint64(arr), flags)
	return uint64(mem.u32(arr)), uint64(mem.u32(arr + 4))
}

func TestPipeCarriesData(t *testing.T) {
	task, mem := newFileTestTask(t)
	arr := mem.alloc(8)
	mustSys(t, task, abi.SYS_PIPE, uint64(arr))
	r, w := uint64(mem.u32(arr)), uint64(mem.u32(arr+4))
	if r != 3 || w != 4 {
		t.Errorf("pipe gave fds %d, %d; want 3, 4", r, w)
	}
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("through")), 7)
	buf := mem.alloc(16)
	if n := mustSys(t, task, abi.SYS_READ, r, uint64(buf), 16); string(mem.bytesAt(buf, int(n))) != "through" {
		t.Errorf("read %q", mem.bytesAt(buf, int(n)))
	}
	mustSys(t, task, abi.SYS_CLOSE, w)
	if n := mustSys(t, task, abi.SYS_READ, r, uint64(buf), 16); n != 0 {
		t.Errorf("read after the writer closed = %d, want EOF", n)
	}
}

func TestPipe2Flags(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, abi.O_NONBLOCK|abi.O_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("pipe2(O_CLOEXEC) read end F_GETFD = %d", v)
	}
	if v := mustSys(t, task, abi.SYS_FCNTL, w, abi.F_GETFL); v&abi.O_NONBLOCK == 0 {
		t.Errorf("pipe2(O_NONBLOCK) write end F_GETFL = %#o", v)
	}
	wantErrno(t, abi.EAGAIN, task, abi.SYS_READ, r, uint64(mem.alloc(4)), 4)
	wantErrno(t, abi.EINVAL, task, abi.SYS_PIPE2, uint64(mem.alloc(8)), abi.O_APPEND)
	if sz := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETPIPE_SZ); sz < 4096 {
		t.Errorf("F_GETPIPE_SZ = %d", sz)
	}
	mustSys(t, task, abi.SYS_FCNTL, r, abi.F_SETPIPE_SZ, 1<<16)
	if sz := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETPIPE_SZ); sz != 1<<16 {
		t.Errorf("F_GETPIPE_SZ after F_SETPIPE_SZ 64K = %d", sz)
	}
}

func TestPipeFailedCopyOutClosesBothEnds(t *testing.T) {
	task, mem := newFileTestTask(t)
	before := len(task.Proc.FDs.Entries())
	// The first four bytes are writable, the next four are not.
	mem.roStart = mem.alloc(4096)
	mem.roEnd = mem.roStart + 4096
	wantErrno(t, abi.EFAULT, task, abi.SYS_PIPE, uint64(mem.roStart-4))
	if after := len(task.Proc.FDs.Entries()); after != before {
		t.Errorf("%d descriptors leaked", after-before)
	}
}

func TestEventfd(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd := mustSys(t, task, abi.SYS_EVENTFD2, 5, abi.EFD_NONBLOCK)
	v := mem.alloc(8)
	binary.LittleEndian.PutUint64(mem.bytesAt(v, 8), 3)
	mustSys(t, task, abi.SYS_WRITE, fd, uint64(v), 8)
	mustSys(t, task, abi.SYS_READ, fd, uint64(v), 8)
	if got := mem.u64(v); got != 8 {
		t.Errorf("eventfd counter = %d, want 5+3", got)
	}
	wantErrno(t, abi.EAGAIN, task, abi.SYS_READ, fd, uint64(v), 8)
	wantErrno(t, abi.EINVAL, task, abi.SYS_EVENTFD2, 0, 0x40)
	fd = mustSys(t, task, abi.SYS_EVENTFD, 1)
	if v := mustSys(t, task, abi.SYS_FCNTL, fd, abi.F_GETFD); v != 0 {
		t.Errorf("eventfd F_GETFD = %d", v)
	}
}

func TestMemfdCreate(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd := mustSys(t, task, abi.SYS_MEMFD_CREATE, uint64(mem.str("guest-mem")), abi.MFD_CLOEXEC|abi.MFD_ALLOW_SEALING)
	mustSys(t, task, abi.SYS_FTRUNCATE, fd, 8192)
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_FSTAT, fd, uint64(st))
	var s abi.Stat
	s.UnmarshalBytes(mem.bytesAt(st, abi.SizeofStat))
	if s.Size != 8192 {
		t.Errorf("memfd size %d", s.Size)
	}
	mustSys(t, task, abi.SYS_FCNTL, fd, abi.F_ADD_SEALS, unix.F_SEAL_GROW)
	if v := mustSys(t, task, abi.SYS_FCNTL, fd, abi.F_GET_SEALS); v&unix.F_SEAL_GROW == 0 {
		t.Errorf("F_GET_SEALS = %#x", v)
	}
	if v := mustSys(t, task, abi.SYS_FCNTL, fd, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("MFD_CLOEXEC not recorded")
	}
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'n'
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_MEMFD_CREATE, uint64(mem.str(string(long))), 0)
	mustSys(t, task, abi.SYS_MEMFD_CREATE, uint64(mem.str(string(long[:249]))), 0)
}

func TestSpliceAndTee(t *testing.T) {
	task, mem := newFileTestTask(t)
	r1, w1 := guestPipe(t, task, mem, 0)
	r2, w2 := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_WRITE, w1, uint64(mem.str("spliced")), 7)
	if n := mustSys(t, task, abi.SYS_TEE, r1, w2, 100, 0); n != 7 {
		t.Fatalf("tee = %d", n)
	}
	fd, path := openTemp(t, task, mem, "", abi.O_RDWR)
	off := mem.alloc(8)
	binary.LittleEndian.PutUint64(mem.bytesAt(off, 8), 3)
	if n := mustSys(t, task, abi.SYS_SPLICE, r1, 0, uint64(fd), uint64(off), 100, 0); n != 7 {
		t.Fatalf("splice = %d", n)
	}
	if mem.u64(off) != 10 {
		t.Errorf("splice output offset = %d", mem.u64(off))
	}
	buf := mem.alloc(16)
	if n := mustSys(t, task, abi.SYS_READ, r2, uint64(buf), 16); string(mem.bytesAt(buf, int(n))) != "spliced" {
		t.Errorf("tee copy = %q", mem.bytesAt(buf, int(n)))
	}
	_ = path
	wantErrno(t, abi.EBADF, task, abi.SYS_SPLICE, 99, 0, uint64(fd), 0, 1, 0)
}

func TestFlock(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, path := openTemp(t, task, mem, "", abi.O_RDONLY)
	b := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDONLY)
	mustSys(t, task, abi.SYS_FLOCK, uint64(a), abi.LOCK_EX)
	wantErrno(t, abi.EAGAIN, task, abi.SYS_FLOCK, b, abi.LOCK_SH|abi.LOCK_NB)
	mustSys(t, task, abi.SYS_FLOCK, uint64(a), abi.LOCK_UN)
	mustSys(t, task, abi.SYS_FLOCK, b, abi.LOCK_SH|abi.LOCK_NB)
	wantErrno(t, abi.EBADF, task, abi.SYS_FLOCK, 99, abi.LOCK_SH)
}

func TestWriteToPipeWithoutReaderIsEPIPE(t *testing.T) {
	// The host's SIGPIPE reaches the guestproc too: it must not kill it.
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_CLOSE, r)
	msg := mem.str("lost")
	wantErrno(t, abi.EPIPE, task, abi.SYS_WRITE, w, uint64(msg), 4)
	iov := putIovecs(mem, abi.Iovec{Base: msg, Len: 4})
	wantErrno(t, abi.EPIPE, task, abi.SYS_WRITEV, w, uint64(iov), 1)
}

// within runs fn and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still blocked after %v", d)
	}
}

func TestBlockingReadWaitsForData(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	hw, _ := task.Proc.FDs.Get(int32(w))
	go func() {
		time.Sleep(20 * time.Millisecond)
		writeHost(hw, "late data")
	}()
	buf := mem.alloc(16)
	within(t, 5*time.Second, func() {
		n, err := fileSys(task, abi.SYS_READ, r, uint64(buf), 16)
		if err != nil || string(mem.bytesAt(buf, int(n))) != "late data" {
			t.Errorf("read = %d, %v: %q", n, err, mem.bytesAt(buf, int(n)))
		}
	})
}

func TestReadHonoursNonblockSetBehindTheTablesBack(t *testing.T) {
	// O_NONBLOCK lives in the open file description, which another process
	// sharing it may set: a read must then fail with EAGAIN, not wait.
	task, mem := newFileTestTask(t)
	r, _ := guestPipe(t, task, mem, 0)
	hr, _ := task.Proc.FDs.Get(int32(r))
	if _, err := unix.FcntlInt(uintptr(hr), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, func() {
		_, err := fileSys(task, abi.SYS_READ, r, uint64(mem.alloc(4)), 4)
		if fileErrnoOf(err) != abi.EAGAIN {
			t.Errorf("read on an empty non-blocking pipe: %v, want EAGAIN", err)
		}
	})
}

func TestBlockingWriteWaitsForRoom(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_FCNTL, w, abi.F_SETPIPE_SZ, 4096)
	big := mem.alloc(4096)
	mustSys(t, task, abi.SYS_WRITE, w, uint64(big), 4096) // fills the pipe
	hr, _ := task.Proc.FDs.Get(int32(r))
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Read(hr, make([]byte, 4096))
	}()
	within(t, 5*time.Second, func() {
		if n, err := fileSys(task, abi.SYS_WRITE, w, uint64(mem.str("more")), 4); err != nil || n != 4 {
			t.Errorf("write after the reader drained = %d, %v", n, err)
		}
	})
}

func TestSpliceWaitsUnlessNonblock(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	fd, _ := openTemp(t, task, mem, "", abi.O_WRONLY)
	within(t, 5*time.Second, func() {
		_, err := fileSys(task, abi.SYS_SPLICE, r, 0, uint64(fd), 0, 10, unix.SPLICE_F_NONBLOCK)
		if fileErrnoOf(err) != abi.EAGAIN {
			t.Errorf("SPLICE_F_NONBLOCK from an empty pipe: %v, want EAGAIN", err)
		}
	})
	hw, _ := task.Proc.FDs.Get(int32(w))
	go func() {
		time.Sleep(20 * time.Millisecond)
		writeHost(hw, "abc")
	}()
	within(t, 5*time.Second, func() {
		if n, err := fileSys(task, abi.SYS_SPLICE, r, 0, uint64(fd), 0, 10, 0); n != 3 || err != nil {
			t.Errorf("blocking splice = %d, %v", n, err)
		}
	})
}

func TestCloseFromAnotherThreadDoesNotPullTheFileFromABlockedRead(t *testing.T) {
	// Linux keeps the file alive for a read in progress; the host number
	// must not be closed (and maybe reused) under it either.
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	hw, _ := task.Proc.FDs.Get(int32(w))
	other := &Task{Proc: task.Proc, Log: task.Log, Tid: 2, inSyscall: -1}
	buf := mem.alloc(8)
	done := make(chan error, 1)
	go func() {
		n, err := fileSys(task, abi.SYS_READ, r, uint64(buf), 8)
		if err == nil && string(mem.bytesAt(buf, int(n))) != "after" {
			t.Errorf("read %q", mem.bytesAt(buf, int(n)))
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	mustSys(t, other, abi.SYS_CLOSE, r)
	// A new open may take the guest number; the blocked read keeps its file.
	mustSys(t, other, abi.SYS_OPEN, uint64(mem.str("/dev/null")), abi.O_RDONLY)
	writeHost(hw, "after")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("read after a concurrent close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked")
	}
}

func TestConcurrentTableUse(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "shared", abi.O_RDONLY)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := &Task{Proc: task.Proc, Log: task.Log, Tid: int32(10 + g), inSyscall: -1}
			for range 200 {
				d, err := fileSys(me, abi.SYS_DUP, uint64(fd))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := fileSys(me, abi.SYS_FCNTL, d, abi.F_GETFL); err != nil {
					t.Error(err)
				}
				if _, err := fileSys(me, abi.SYS_CLOSE, d); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(task.Proc.FDs.Entries()); n != 4 {
		t.Errorf("%d descriptors open after balanced dup/close, want 4", n)
	}
}

func TestSocketReadHonoursReceiveTimeout(t *testing.T) {
	// A read(2) on a socket with SO_RCVTIMEO must give up with EAGAIN, even
	// though elfuse waits for readiness itself.
	task, mem := newFileTestTask(t)
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[1])
	if err := unix.SetsockoptTimeval(sp[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000}); err != nil {
		t.Fatal(err)
	}
	fd, err := task.Proc.FDs.Install(sp[0], false, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	within(t, 5*time.Second, func() {
		_, err := fileSys(task, abi.SYS_READ, uint64(fd), uint64(mem.alloc(8)), 8)
		if fileErrnoOf(err) != abi.EAGAIN {
			t.Errorf("read past SO_RCVTIMEO: %v, want EAGAIN", err)
		}
	})
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the 50ms timeout", el)
	}
	unix.Write(sp[1], []byte("ok"))
	buf := mem.alloc(8)
	if n := mustSys(t, task, abi.SYS_READ, uint64(fd), uint64(buf), 8); string(mem.bytesAt(buf, int(n))) != "ok" {
		t.Errorf("read %q", mem.bytesAt(buf, int(n)))
	}
}
