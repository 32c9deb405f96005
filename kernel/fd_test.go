package kernel

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// hostOpen opens a scratch file on the host for table tests.
func hostOpen(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// hostOpenFD reports whether host descriptor fd is open.
func hostOpenFD(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func testTable(t *testing.T) *FDTable {
	f := NewFDTable()
	t.Cleanup(func() { f.CloseRange(3, 1<<31-1) })
	return f
}

func TestFDTableStartsWithHostStdio(t *testing.T) {
	f := testTable(t)
	for fd := int32(0); fd < 3; fd++ {
		h, err := f.Get(fd)
		if err != nil || h != int(fd) {
			t.Errorf("Get(%d) = %d, %v; want host %d", fd, h, err, fd)
		}
	}
	if _, err := f.Get(3); err != abi.EBADF {
		t.Errorf("Get(3) on a fresh table: %v, want EBADF", err)
	}
}

func TestFDTableGivesLowestFreeNumber(t *testing.T) {
	tests := []struct {
		name   string
		closed []int32 // closed after opening 3..7
		min    int32
		want   int32
	}{
		{"next after the open ones", nil, 0, 8},
		{"reuses the lowest hole", []int32{5, 4}, 0, 4},
		{"respects the minimum", []int32{4}, 5, 8},
		{"minimum inside a hole", []int32{6}, 6, 6},
		{"minimum past the end", nil, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testTable(t)
			for range 5 {
				if _, err := f.Install(hostOpen(t), false, 0); err != nil {
					t.Fatal(err)
				}
			}
			for _, fd := range tc.closed {
				if err := f.Close(fd); err != nil {
					t.Fatal(err)
				}
			}
			h := hostOpen(t)
			got, err := f.Install(h, false, tc.min)
			if err != nil || got != tc.want {
				t.Fatalf("Install = %d, %v; want %d", got, err, tc.want)
			}
			if hh, _ := f.Get(got); hh != h {
				t.Errorf("Get(%d) = host %d, want %d", got, hh, h)
			}
		})
	}
}

func TestFDTableEnforcesNoFileLimit(t *testing.T) {
	f := testTable(t)
	f.SetLimit(5)
	for want := int32(3); want < 5; want++ {
		if got, err := f.Install(hostOpen(t), false, 0); err != nil || got != want {
			t.Fatalf("Install = %d, %v; want %d", got, err, want)
		}
	}
	h := hostOpen(t)
	defer unix.Close(h)
	if _, err := f.Install(h, false, 0); err != abi.EMFILE {
		t.Errorf("Install at the limit: %v, want EMFILE", err)
	}
	if !hostOpenFD(h) {
		t.Errorf("a failed Install closed the caller's descriptor")
	}
	if _, err := f.Dup(3, 0, false); err != abi.EMFILE {
		t.Errorf("Dup at the limit: %v, want EMFILE", err)
	}
	if err := f.DupTo(3, 5, false); err != abi.EBADF {
		t.Errorf("DupTo past the limit: %v, want EBADF", err)
	}
}

func TestFDTableDupSharesHostFileUntilLastClose(t *testing.T) {
	f := testTable(t)
	h := hostOpen(t)
	fd, _ := f.Install(h, false, 0)
	d, err := f.Dup(fd, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if hd, _ := f.Get(d); hd != h {
		t.Errorf("dup refers to host %d, want the shared %d", hd, h)
	}
	if ce, _ := f.GetCloexec(d); !ce {
		t.Errorf("dup lost its own close-on-exec flag")
	}
	if ce, _ := f.GetCloexec(fd); ce {
		t.Errorf("dup changed the original's close-on-exec flag")
	}
	f.Close(fd)
	if !hostOpenFD(h) {
		t.Fatalf("host descriptor closed while a dup still refers to it")
	}
	f.Close(d)
	if hostOpenFD(h) {
		t.Errorf("host descriptor still open after the last guest close")
	}
}

func TestFDTableAcquireDefersHostClose(t *testing.T) {
	f := testTable(t)
	h := hostOpen(t)
	fd, _ := f.Install(h, false, 0)
	ref, err := f.Acquire(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(fd); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(fd); err != abi.EBADF {
		t.Errorf("Get after Close: %v, want EBADF", err)
	}
	if !hostOpenFD(h) {
		t.Fatalf("host descriptor closed under a syscall in flight")
	}
	ref.Release()
	if hostOpenFD(h) {
		t.Errorf("host descriptor still open after the last reference")
	}
}

func TestFDTableDupToReplacesAndCloses(t *testing.T) {
	f := testTable(t)
	h1, h2 := hostOpen(t), hostOpen(t)
	a, _ := f.Install(h1, false, 0)
	b, _ := f.Install(h2, true, 0)
	if err := f.DupTo(a, b, false); err != nil {
		t.Fatal(err)
	}
	if hostOpenFD(h2) {
		t.Errorf("the replaced descriptor's host file was not closed")
	}
	if hb, _ := f.Get(b); hb != h1 {
		t.Errorf("newfd refers to host %d, want %d", hb, h1)
	}
	if ce, _ := f.GetCloexec(b); ce {
		t.Errorf("newfd kept the old close-on-exec flag")
	}
	if err := f.DupTo(42, 9, false); err != abi.EBADF {
		t.Errorf("DupTo from a closed fd: %v, want EBADF", err)
	}
}

func TestFDTableCloseOnExecClosesOnlyMarked(t *testing.T) {
	f := testTable(t)
	keep, drop := hostOpen(t), hostOpen(t)
	k, _ := f.Install(keep, false, 0)
	d, _ := f.Install(drop, true, 0)
	f.CloseOnExec()
	if _, err := f.Get(k); err != nil {
		t.Errorf("descriptor without FD_CLOEXEC closed on exec")
	}
	if _, err := f.Get(d); err != abi.EBADF {
		t.Errorf("FD_CLOEXEC descriptor survived exec")
	}
	if hostOpenFD(drop) {
		t.Errorf("host descriptor of a close-on-exec fd left open")
	}
	for fd := int32(0); fd < 3; fd++ {
		if _, err := f.Get(fd); err != nil {
			t.Errorf("stdio fd %d closed on exec", fd)
		}
	}
}

func TestFDTableEntriesListOpenDescriptors(t *testing.T) {
	f := testTable(t)
	h := hostOpen(t)
	f.InstallAt(7, h, true)
	got := f.Entries()
	want := []FDEntry{{FD: 0, Host: 0}, {FD: 1, Host: 1}, {FD: 2, Host: 2}, {FD: 7, Host: h, CloseOnExec: true}}
	if !slices.Equal(got, want) {
		t.Errorf("Entries = %v, want %v", got, want)
	}
}

func TestFDTableClosingDupReleasesPosixLocks(t *testing.T) {
	// Linux drops a process's record locks on any close of the file; the
	// shared host descriptor stays open, so the table must unlock itself.
	f := testTable(t)
	path := filepath.Join(t.TempDir(), "lock")
	h, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := f.Install(h, false, 0)
	d, _ := f.Dup(fd, 0, false)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(h), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	f.Close(d)
	// An OFD lock on another open file description conflicts with a
	// process lock, so it only succeeds if the close dropped ours.
	o, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ofd := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(o.Fd(), unix.F_OFD_SETLK, &ofd); err != nil {
		t.Errorf("record lock survived close of a dup: %v", err)
	}
}

func TestHostFileMayBlock(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	efd, _ := unix.Eventfd(0, unix.EFD_CLOEXEC)
	dir, _ := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	null, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	tests := []struct {
		name string
		fd   int
		want bool
	}{
		{"regular file", hostOpen(t), false},
		{"directory", dir, false},
		{"pipe", p[0], true},
		{"eventfd (anonymous inode)", efd, true},
		{"character device", null, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostFile(tc.fd)
			for range 2 { // the second answer comes from the cache
				if got := h.mayBlock(); got != tc.want {
					t.Errorf("mayBlock = %v, want %v", got, tc.want)
				}
			}
			h.Release()
		})
	}
}

func TestFDTableNumbersMatchLowestFreeModel(t *testing.T) {
	// Random installs, dups and closes against a model that rescans from
	// zero: the table's allocation hint must never skip a free number.
	f := testTable(t)
	f.SetLimit(40)
	open := map[int32]bool{0: true, 1: true, 2: true}
	lowest := func(min int32) int32 {
		for fd := min; fd < 40; fd++ {
			if !open[fd] {
				return fd
			}
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(7, 9))
	for i := range 3000 {
		fd := int32(rng.IntN(40))
		switch rng.IntN(4) {
		case 0: // dup (lowest free)
			want := lowest(0)
			got, err := f.Dup(2, 0, false)
			if want < 0 {
				if err != abi.EMFILE {
					t.Fatalf("step %d: Dup with a full table: %d, %v", i, got, err)
				}
				continue
			}
			if err != nil || got != want {
				t.Fatalf("step %d: Dup = %d, %v; model says %d", i, got, err, want)
			}
			open[got] = true
		case 1: // F_DUPFD with a minimum
			want := lowest(fd)
			got, err := f.Dup(2, fd, false)
			if want < 0 {
				continue
			}
			if err != nil || got != want {
				t.Fatalf("step %d: Dup(min %d) = %d, %v; model says %d", i, fd, got, err, want)
			}
			open[got] = true
		case 2: // dup2 onto an arbitrary number
			if fd < 2 {
				// Not onto the test binary's stdin or stdout: the table
				// holds the real descriptors 0-2, and replacing one closes
				// it (a later open then took number 1 and the binary's
				// output went there: an "exit status 1" with no report).
				continue
			}
			if err := f.DupTo(2, fd, false); err != nil {
				t.Fatal(err)
			}
			open[fd] = true
		case 3:
			if fd < 3 {
				continue // keep the test binary's stdio
			}
			err := f.Close(fd)
			if open[fd] != (err == nil) {
				t.Fatalf("step %d: Close(%d) = %v, model open=%v", i, fd, err, open[fd])
			}
			delete(open, fd)
		}
	}
}

func TestOpenAtLimitCreatesNothing(t *testing.T) {
	task, mem := newFileTestTask(t)
	task.Proc.FDs.SetLimit(3)
	path := filepath.Join(t.TempDir(), "new")
	wantErrno(t, abi.EMFILE, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_CREAT|abi.O_WRONLY, 0o600)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("open at RLIMIT_NOFILE created the file (%v)", err)
	}
}
