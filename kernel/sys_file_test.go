package kernel

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// openTemp creates a file with content in a temp dir and opens it in the
// guest with flags; it returns the guest fd and the path.
func openTemp(t *testing.T, task *Task, mem *fileTestMem, content string, flags int) (int32, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fd := mustSys(t, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(path)), uint64(flags), 0)
	return int32(fd), path
}

func TestOpenWriteSeekReadRoundTrip(t *testing.T) {
	task, mem := newFileTestTask(t)
	path := filepath.Join(t.TempDir(), "new")
	fd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDWR|abi.O_CREAT|abi.O_EXCL, 0o640)
	if fd != 3 {
		t.Errorf("first open returned fd %d, want 3 (lowest free)", fd)
	}
	msg := mem.str("hello, guest")
	if n := mustSys(t, task, abi.SYS_WRITE, fd, uint64(msg), 12); n != 12 {
		t.Fatalf("write = %d", n)
	}
	if off := mustSys(t, task, abi.SYS_LSEEK, fd, 7, abi.SEEK_SET); off != 7 {
		t.Fatalf("lseek = %d", off)
	}
	buf := mem.alloc(64)
	n := mustSys(t, task, abi.SYS_READ, fd, uint64(buf), 64)
	if got := string(mem.bytesAt(buf, int(n))); got != "guest" {
		t.Errorf("read %q, want %q", got, "guest")
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o640&^umaskNow() {
		t.Errorf("created file mode %v, %v", st.Mode(), err)
	}
	wantErrno(t, abi.EEXIST, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDWR|abi.O_CREAT|abi.O_EXCL, 0o640)
}

func umaskNow() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}

func TestCreatTruncates(t *testing.T) {
	task, mem := newFileTestTask(t)
	_, path := openTemp(t, task, mem, "old content", abi.O_RDONLY)
	fd := mustSys(t, task, abi.SYS_CREAT, uint64(mem.str(path)), 0o600)
	mustSys(t, task, abi.SYS_WRITE, fd, uint64(mem.str("x")), 1)
	if b, _ := os.ReadFile(path); string(b) != "x" {
		t.Errorf("file holds %q after creat+write, want %q", b, "x")
	}
}

func TestHostDescriptorsAreAlwaysCloseOnExec(t *testing.T) {
	for _, tc := range []struct {
		name        string
		flags       int
		wantCloexec uint64
	}{
		{"without O_CLOEXEC", abi.O_RDONLY, 0},
		{"with O_CLOEXEC", abi.O_RDONLY | abi.O_CLOEXEC, abi.FD_CLOEXEC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			fd, _ := openTemp(t, task, mem, "", tc.flags)
			if got := mustSys(t, task, abi.SYS_FCNTL, uint64(fd), abi.F_GETFD, 0); got != tc.wantCloexec {
				t.Errorf("guest F_GETFD = %d, want %d", got, tc.wantCloexec)
			}
			h, _ := task.Proc.FDs.Get(fd)
			if v, err := unix.FcntlInt(uintptr(h), unix.F_GETFD, 0); err != nil || v&unix.FD_CLOEXEC == 0 {
				t.Errorf("host descriptor flags %d, %v: want FD_CLOEXEC", v, err)
			}
		})
	}
}

func TestBadGuestPointersGiveEFAULT(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "0123456789", abi.O_RDWR)
	tests := []struct {
		name string
		nr   uint64
		args []uint64
	}{
		{"read into unmapped buffer", abi.SYS_READ, []uint64{uint64(fd), uint64(fileBadAddr), 4}},
		{"write from unmapped buffer", abi.SYS_WRITE, []uint64{uint64(fd), uint64(fileBadAddr), 4}},
		{"read into read-only memory", abi.SYS_READ, []uint64{uint64(fd), uint64(mem.roStart), 4}},
		{"open unmapped path", abi.SYS_OPEN, []uint64{uint64(fileBadAddr), 0, 0}},
		{"stat unmapped path", abi.SYS_STAT, []uint64{uint64(fileBadAddr), uint64(mem.alloc(abi.SizeofStat))}},
		{"stat into unmapped buffer", abi.SYS_STAT, []uint64{uint64(mem.str("/")), uint64(fileBadAddr)}},
		{"fstat into unmapped buffer", abi.SYS_FSTAT, []uint64{uint64(fd), uint64(fileBadAddr)}},
		{"readv unmapped iovec array", abi.SYS_READV, []uint64{uint64(fd), uint64(fileBadAddr), 1}},
		{"pipe into unmapped array", abi.SYS_PIPE, []uint64{uint64(fileBadAddr)}},
		{"getcwd into unmapped buffer", abi.SYS_GETCWD, []uint64{uint64(fileBadAddr), 4096}},
		{"wrapping buffer", abi.SYS_READ, []uint64{uint64(fd), ^uint64(0) - 2, 16}},
	}
	// A read-only page inside the fake memory.
	mem.roStart = mem.alloc(4096)
	mem.roEnd = mem.roStart + 4096
	tests[2].args[1] = uint64(mem.roStart)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(task.Proc.FDs.Entries())
			wantErrno(t, abi.EFAULT, task, tc.nr, tc.args...)
			if after := len(task.Proc.FDs.Entries()); after != before {
				t.Errorf("descriptor count %d -> %d: a failed call leaked a descriptor", before, after)
			}
		})
	}
}

func TestReadStopsAtFirstInaccessibleByte(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, string(bytes.Repeat([]byte("z"), 3*4096)), abi.O_RDONLY)
	// Buffer: 100 bytes before a page boundary, then one writable page,
	// then a read-only page.
	page := (mem.alloc(4*4096) + 4095) &^ 4095
	mem.roStart, mem.roEnd = page+2*4096, page+3*4096
	buf := page + 4096 - 100
	n := mustSys(t, task, abi.SYS_READ, uint64(fd), uint64(buf), 3*4096)
	if n != 100+4096 {
		t.Errorf("read = %d, want %d (up to the read-only page)", n, 100+4096)
	}
}

func TestPreadPwriteKeepFileOffset(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, path := openTemp(t, task, mem, "abcdefgh", abi.O_RDWR)
	buf := mem.alloc(8)
	if n := mustSys(t, task, abi.SYS_PREAD64, uint64(fd), uint64(buf), 3, 4); string(mem.bytesAt(buf, int(n))) != "efg" {
		t.Errorf("pread got %q", mem.bytesAt(buf, int(n)))
	}
	mustSys(t, task, abi.SYS_PWRITE64, uint64(fd), uint64(mem.str("XY")), 2, 1)
	if off := mustSys(t, task, abi.SYS_LSEEK, uint64(fd), 0, abi.SEEK_CUR); off != 0 {
		t.Errorf("file offset moved to %d", off)
	}
	if b, _ := os.ReadFile(path); string(b) != "aXYdefgh" {
		t.Errorf("file = %q", b)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_PREAD64, uint64(fd), uint64(buf), 3, ^uint64(0))
}

// putIovecs writes an iovec array and returns its address.
func putIovecs(mem *fileTestMem, iovs ...abi.Iovec) abi.Addr {
	a := mem.alloc(len(iovs) * abi.SizeofIovec)
	for i := range iovs {
		iovs[i].MarshalBytes(mem.bytesAt(a+abi.Addr(i*abi.SizeofIovec), abi.SizeofIovec))
	}
	return a
}

func TestVectoredIO(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, path := openTemp(t, task, mem, "", abi.O_RDWR)
	a, b := mem.str("head-"), mem.str("tail")
	wv := putIovecs(mem, abi.Iovec{Base: a, Len: 5}, abi.Iovec{Base: fileBadAddr, Len: 0}, abi.Iovec{Base: b, Len: 4})
	if n := mustSys(t, task, abi.SYS_WRITEV, uint64(fd), uint64(wv), 3); n != 9 {
		t.Fatalf("writev = %d", n)
	}
	if got, _ := os.ReadFile(path); string(got) != "head-tail" {
		t.Fatalf("file = %q", got)
	}
	x, y := mem.alloc(3), mem.alloc(16)
	rv := putIovecs(mem, abi.Iovec{Base: x, Len: 3}, abi.Iovec{Base: y, Len: 16})
	n := mustSys(t, task, abi.SYS_PREADV, uint64(fd), uint64(rv), 2, 2)
	if string(mem.bytesAt(x, 3)) != "ad-" || string(mem.bytesAt(y, int(n)-3)) != "tail" {
		t.Errorf("preadv = %d: %q %q", n, mem.bytesAt(x, 3), mem.bytesAt(y, int(n)-3))
	}
	mustSys(t, task, abi.SYS_LSEEK, uint64(fd), 0, abi.SEEK_SET)
	n = mustSys(t, task, abi.SYS_PREADV2, uint64(fd), uint64(rv), 2, ^uint64(0), 0, 0)
	if n != 9 || mustSys(t, task, abi.SYS_LSEEK, uint64(fd), 0, abi.SEEK_CUR) != 9 {
		t.Errorf("preadv2 at offset -1 should read at and advance the file position (n=%d)", n)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_READV, uint64(fd), uint64(rv), abi.IOV_MAX+1)
	neg := putIovecs(mem, abi.Iovec{Base: x, Len: 1 << 63})
	wantErrno(t, abi.EINVAL, task, abi.SYS_READV, uint64(fd), uint64(neg), 1)
	if n := mustSys(t, task, abi.SYS_READV, uint64(fd), uint64(rv), 0); n != 0 {
		t.Errorf("readv with no iovecs = %d", n)
	}
}

func TestDupFamily(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "", abi.O_RDONLY)
	if d := mustSys(t, task, abi.SYS_DUP, uint64(fd)); d != 4 {
		t.Errorf("dup = %d, want 4", d)
	}
	if d := mustSys(t, task, abi.SYS_DUP2, uint64(fd), 10); d != 10 {
		t.Errorf("dup2 = %d, want 10", d)
	}
	if d := mustSys(t, task, abi.SYS_DUP2, uint64(fd), uint64(fd)); d != uint64(fd) {
		t.Errorf("dup2 onto itself = %d", d)
	}
	wantErrno(t, abi.EBADF, task, abi.SYS_DUP2, 99, 99)
	wantErrno(t, abi.EINVAL, task, abi.SYS_DUP3, uint64(fd), uint64(fd), 0)
	wantErrno(t, abi.EINVAL, task, abi.SYS_DUP3, uint64(fd), 11, abi.O_NONBLOCK)
	if d := mustSys(t, task, abi.SYS_DUP3, uint64(fd), 11, abi.O_CLOEXEC); d != 11 {
		t.Errorf("dup3 = %d", d)
	}
	if v := mustSys(t, task, abi.SYS_FCNTL, 11, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("dup3(O_CLOEXEC) F_GETFD = %d", v)
	}
	wantErrno(t, abi.EBADF, task, abi.SYS_DUP2, uint64(fd), uint64(DefaultNoFile))
}

func TestFcntlCommands(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "", abi.O_WRONLY)
	if d := mustSys(t, task, abi.SYS_FCNTL, uint64(fd), abi.F_DUPFD, 20); d != 20 {
		t.Errorf("F_DUPFD 20 = %d", d)
	}
	if d := mustSys(t, task, abi.SYS_FCNTL, uint64(fd), abi.F_DUPFD_CLOEXEC, 20); d != 21 {
		t.Errorf("F_DUPFD_CLOEXEC 20 = %d", d)
	}
	if v := mustSys(t, task, abi.SYS_FCNTL, 21, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("F_GETFD after F_DUPFD_CLOEXEC = %d", v)
	}
	mustSys(t, task, abi.SYS_FCNTL, 21, abi.F_SETFD, 0)
	if v := mustSys(t, task, abi.SYS_FCNTL, 21, abi.F_GETFD); v != 0 {
		t.Errorf("F_GETFD after clearing = %d", v)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_FCNTL, uint64(fd), abi.F_DUPFD, uint64(DefaultNoFile))
	wantErrno(t, abi.EINVAL, task, abi.SYS_FCNTL, uint64(fd), abi.F_DUPFD, ^uint64(0))
	mustSys(t, task, abi.SYS_FCNTL, uint64(fd), abi.F_SETFL, abi.O_APPEND|abi.O_NONBLOCK)
	fl := mustSys(t, task, abi.SYS_FCNTL, uint64(fd), abi.F_GETFL)
	if fl&abi.O_ACCMODE != abi.O_WRONLY || fl&abi.O_APPEND == 0 || fl&abi.O_NONBLOCK == 0 {
		t.Errorf("F_GETFL = %#o", fl)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_FCNTL, uint64(fd), 9999)
	wantErrno(t, abi.EBADF, task, abi.SYS_FCNTL, 77, abi.F_GETFL)
}

// flockAt writes a struct flock and returns its address.
func flockAt(mem *fileTestMem, typ int16) abi.Addr {
	a := mem.alloc(abi.SizeofFlock)
	lk := abi.Flock{Type: typ, Whence: abi.SEEK_SET}
	lk.MarshalBytes(mem.bytesAt(a, abi.SizeofFlock))
	return a
}

func TestFcntlOFDLocksConflictBetweenOpenFiles(t *testing.T) {
	task, mem := newFileTestTask(t)
	a, path := openTemp(t, task, mem, "x", abi.O_RDWR)
	b := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDWR)
	mustSys(t, task, abi.SYS_FCNTL, uint64(a), abi.F_OFD_SETLK, uint64(flockAt(mem, abi.F_WRLCK)))
	wantErrno(t, abi.EAGAIN, task, abi.SYS_FCNTL, b, abi.F_OFD_SETLK, uint64(flockAt(mem, abi.F_WRLCK)))
	q := flockAt(mem, abi.F_WRLCK)
	mustSys(t, task, abi.SYS_FCNTL, b, abi.F_OFD_GETLK, uint64(q))
	var got abi.Flock
	got.UnmarshalBytes(mem.bytesAt(q, abi.SizeofFlock))
	if got.Type != abi.F_WRLCK || got.Pid != -1 {
		t.Errorf("F_OFD_GETLK = %+v, want the conflicting write lock (pid -1)", got)
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_FCNTL, b, abi.F_GETLK, uint64(fileBadAddr))
}

func TestCloseRange(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "", abi.O_RDONLY)
	for range 4 {
		mustSys(t, task, abi.SYS_DUP, uint64(fd)) // 4..7
	}
	mustSys(t, task, abi.SYS_CLOSE_RANGE, 5, 6, abi.CLOSE_RANGE_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, 5, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("CLOSE_RANGE_CLOEXEC left fd 5 flags %d", v)
	}
	mustSys(t, task, abi.SYS_CLOSE_RANGE, 4, ^uint64(0)>>32, 0)
	for _, e := range task.Proc.FDs.Entries() {
		if e.FD >= 4 {
			t.Errorf("fd %d survived close_range(4, ~0)", e.FD)
		}
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_CLOSE_RANGE, 5, 4, 0)
	wantErrno(t, abi.EINVAL, task, abi.SYS_CLOSE_RANGE, 4, 5, 1<<9)
	wantErrno(t, abi.EBADF, task, abi.SYS_CLOSE, 4)
}

func TestOpenat2(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in"), []byte("x"), 0o644)
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	how := func(flags, resolve uint64, size int, tail byte) (abi.Addr, uint64) {
		a := mem.alloc(size)
		h := abi.OpenHow{Flags: flags, Resolve: resolve}
		h.MarshalBytes(mem.bytesAt(a, 24))
		if size > 24 {
			mem.bytesAt(a, size)[size-1] = tail
		}
		return a, uint64(size)
	}
	in, dotdot := mem.str("in"), mem.str("../etc")
	h, sz := how(abi.O_RDONLY|abi.O_CLOEXEC, 0, 24, 0)
	fd := mustSys(t, task, abi.SYS_OPENAT2, dfd, uint64(in), uint64(h), sz)
	if v := mustSys(t, task, abi.SYS_FCNTL, fd, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("openat2 O_CLOEXEC not recorded: %d", v)
	}
	h, sz = how(abi.O_RDONLY, 0, 32, 0)
	mustSys(t, task, abi.SYS_OPENAT2, dfd, uint64(in), uint64(h), sz)
	h, sz = how(abi.O_RDONLY, 0, 32, 1)
	wantErrno(t, abi.E2BIG, task, abi.SYS_OPENAT2, dfd, uint64(in), uint64(h), sz)
	h, _ = how(abi.O_RDONLY, 0, 24, 0)
	wantErrno(t, abi.EINVAL, task, abi.SYS_OPENAT2, dfd, uint64(in), uint64(h), 16)
	h, sz = how(abi.O_RDONLY, abi.RESOLVE_BENEATH, 24, 0)
	wantErrno(t, abi.EXDEV, task, abi.SYS_OPENAT2, dfd, uint64(dotdot), uint64(h), sz)
}

func TestSendfileAndCopyFileRange(t *testing.T) {
	task, mem := newFileTestTask(t)
	src, _ := openTemp(t, task, mem, "0123456789", abi.O_RDONLY)
	dst, dpath := openTemp(t, task, mem, "", abi.O_RDWR)
	off := mem.alloc(8)
	binary.LittleEndian.PutUint64(mem.bytesAt(off, 8), 2)
	if n := mustSys(t, task, abi.SYS_SENDFILE, uint64(dst), uint64(src), uint64(off), 3); n != 3 {
		t.Fatalf("sendfile = %d", n)
	}
	if mem.u64(off) != 5 {
		t.Errorf("sendfile offset updated to %d, want 5", mem.u64(off))
	}
	if pos := mustSys(t, task, abi.SYS_LSEEK, uint64(src), 0, abi.SEEK_CUR); pos != 0 {
		t.Errorf("sendfile with an offset moved the input position to %d", pos)
	}
	if n := mustSys(t, task, abi.SYS_COPY_FILE_RANGE, uint64(src), uint64(off), uint64(dst), 0, 4, 0); n != 4 {
		t.Fatalf("copy_file_range = %d", n)
	}
	if b, _ := os.ReadFile(dpath); string(b) != "2345678" {
		t.Errorf("destination = %q", b)
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_SENDFILE, uint64(dst), uint64(src), uint64(fileBadAddr), 3)
}

func TestEmptyBufferMustStillBeAUserAddress(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "", abi.O_WRONLY)
	tests := []struct {
		name string
		addr uint64
		want abi.Errno
	}{
		{"unmapped user address", uint64(fileBadAddr), 0},
		{"top of user space", userSpaceEnd, 0},
		{"non-canonical", 1 << 47, abi.EFAULT},
		{"kernel half", 0xffff880000000000, abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fileSys(task, abi.SYS_WRITE, uint64(fd), tc.addr, 0)
			if got := fileErrnoOf(err); got != tc.want {
				t.Errorf("write(fd, %#x, 0): errno %d, want %d", tc.addr, got, tc.want)
			}
			iov := putIovecs(mem, abi.Iovec{Base: abi.Addr(tc.addr), Len: 0})
			_, err = fileSys(task, abi.SYS_WRITEV, uint64(fd), uint64(iov), 1)
			if got := fileErrnoOf(err); got != tc.want {
				t.Errorf("writev with an empty iovec at %#x: errno %d, want %d", tc.addr, got, tc.want)
			}
		})
	}
}

func TestProcSelfExeIsCanonicalAndAbsolute(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	os.WriteFile(filepath.Join(dir, "real"), nil, 0o755)
	os.Symlink("real", filepath.Join(dir, "alias"))
	orig, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(orig) })
	os.Chdir(dir)
	for _, exe := range []string{"./alias", "alias", filepath.Join(dir, "alias")} {
		t.Run(exe, func(t *testing.T) {
			task.Proc.Exe = exe
			buf := mem.alloc(256)
			n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str("/proc/self/exe")), uint64(buf), 256)
			if got, want := string(mem.bytesAt(buf, int(n))), filepath.Join(dir, "real"); got != want {
				t.Errorf("readlink(/proc/self/exe) = %q, want %q", got, want)
			}
		})
	}
}
