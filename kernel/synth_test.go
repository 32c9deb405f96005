package kernel

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// synthTestTask is a file-test task with an argv and environment.
func synthTestTask(t *testing.T) (*Task, *fileTestMem) {
	task, mem := newFileTestTask(t)
	task.Proc.Argv = []string{"prog", "-x", "two words"}
	task.Proc.Envp = []string{"A=1", "B=2"}
	return task, mem
}

// readlinkString runs readlink on path in the guest.
func readlinkString(t *testing.T, task *Task, mem *fileTestMem, path string) (string, abi.Errno) {
	t.Helper()
	buf := mem.alloc(4096)
	n, err := fileSys(task, abi.SYS_READLINKAT, fdArg(abi.AT_FDCWD), uint64(mem.str(path)), uint64(buf), 4096)
	if err != nil {
		return "", fileErrnoOf(err)
	}
	return string(mem.bytesAt(buf, int(n))), 0
}

// readAllGuest opens path in the guest and reads it to the end.
func readAllGuest(t *testing.T, task *Task, mem *fileTestMem, path string) []byte {
	t.Helper()
	fd := mustSys(t, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(path)), abi.O_RDONLY, 0)
	defer fileSys(task, abi.SYS_CLOSE, fd)
	buf := mem.alloc(1 << 16)
	var out []byte
	for {
		n := mustSys(t, task, abi.SYS_READ, fd, uint64(buf), 1<<16)
		if n == 0 {
			return out
		}
		out = append(out, mem.bytesAt(buf, int(n))...)
	}
}

// statIdentity returns st_dev and st_ino of a stat buffer.
func statIdentity(mem *fileTestMem, addr abi.Addr) (uint64, uint64) {
	return mem.u64(addr), mem.u64(addr + 8)
}

func TestSynthLinksNameTheGuest(t *testing.T) {
	task, mem := synthTestTask(t)
	tests := []struct {
		path  string
		want  string
		errno abi.Errno
	}{
		{"/proc/self", "1", 0},
		{"/proc/thread-self", "1/task/1", 0},
		{"/proc/self/exe", "/opt/guest/bin/prog", 0},
		{"/proc/1/exe", "/opt/guest/bin/prog", 0},
		{"/proc/self/root", "/", 0},
		{"/dev/stdin", "/proc/self/fd/0", 0},
		{"/dev/fd", "/proc/self/fd", 0},
		{"/proc/self/status", "", abi.EINVAL},
		{"/proc/4242/exe", "", abi.ENOENT},
		{"/proc/self/nonesuch", "", abi.ENOENT},
	}
	for _, tt := range tests {
		got, errno := readlinkString(t, task, mem, tt.path)
		if got != tt.want || errno != tt.errno {
			t.Errorf("readlink %s = %q, errno %d; want %q, errno %d", tt.path, got, errno, tt.want, tt.errno)
		}
	}
}

func TestSynthFilesHoldProcessState(t *testing.T) {
	task, mem := synthTestTask(t)
	tests := []struct {
		path string
		want string
	}{
		{"/proc/self/cmdline", "prog\x00-x\x00two words\x00"},
		{"/proc/self/environ", "A=1\x00B=2\x00"},
		{"/proc/self/comm", "prog\n"},
		{"/proc/1/task/1/comm", "prog\n"},
	}
	for _, tt := range tests {
		if got := string(readAllGuest(t, task, mem, tt.path)); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.path, got, tt.want)
		}
	}
	status := string(readAllGuest(t, task, mem, "/proc/self/status"))
	for _, want := range []string{"Name:\tprog\n", "Pid:\t1\n", "PPid:\t0\n", "Threads:\t1\n", "SigCgt:\t"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if stat := string(readAllGuest(t, task, mem, "/proc/self/stat")); !strings.HasPrefix(stat, "1 (prog) R 0 ") {
		t.Errorf("stat = %q", stat)
	}
}

func TestSynthFilesRefuseWrites(t *testing.T) {
	task, mem := synthTestTask(t)
	open := func(p string) (uint64, error) {
		return fileSys(task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(p)), abi.O_WRONLY, 0)
	}
	x := mem.str("x")
	if c := task.Proc.Creds(); c.capable(abi.CAP_DAC_OVERRIDE) {
		// Root opens them, as on Linux, and every write fails: EINVAL
		// under /proc/PID, EIO for /proc's own files.
		for _, c := range []struct {
			path string
			want abi.Errno
		}{{"/proc/self/status", abi.EINVAL}, {"/proc/1/task/1/stat", abi.EINVAL}, {"/proc/version", abi.EIO}} {
			fd, err := open(c.path)
			if err != nil {
				t.Fatalf("open %s for writing as root: %v", c.path, err)
			}
			wantErrno(t, c.want, task, abi.SYS_WRITE, fd, uint64(x), 1)
			mustSys(t, task, abi.SYS_CLOSE, fd)
		}
		xs := task.Proc.ext()
		xs.mu.Lock()
		xs.st.Creds.Caps.Effective &^= 1 << abi.CAP_DAC_OVERRIDE
		xs.mu.Unlock()
	}
	wantErrno(t, abi.EACCES, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/self/status")), abi.O_WRONLY, 0)
	wantErrno(t, abi.ENOENT, task, abi.SYS_MKDIRAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/newdir")), 0o755)
	wantErrno(t, abi.ENOENT, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/999999/status")), abi.O_RDONLY, 0)
	wantErrno(t, abi.ENOTDIR, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/self/status/x")), abi.O_RDONLY, 0)
}

func TestSynthIdentityIsStableAndDistinct(t *testing.T) {
	task, mem := synthTestTask(t)
	st := mem.alloc(abi.SizeofStat)
	ids := map[[2]uint64]string{}
	for _, p := range []string{"/proc/self/status", "/proc/self/maps", "/proc", "/proc/1", "/proc/self/fdinfo", "/dev"} {
		mustSys(t, task, abi.SYS_NEWFSTATAT, fdArg(abi.AT_FDCWD), uint64(mem.str(p)), uint64(st), 0)
		dev, ino := statIdentity(mem, st)
		if dev != synthDev || ino != synthIno(strings.Replace(p, "self", "1", 1)) {
			t.Errorf("stat %s = %d:%d, want device %d and the path hash", p, dev, ino, synthDev)
		}
		if other, dup := ids[[2]uint64{dev, ino}]; dup {
			t.Errorf("%s and %s share an identity", p, other)
		}
		ids[[2]uint64{dev, ino}] = p
		// An open descriptor reports the same identity.
		fd := mustSys(t, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(p)), abi.O_RDONLY, 0)
		mustSys(t, task, abi.SYS_FSTAT, fd, uint64(st))
		fileSys(task, abi.SYS_CLOSE, fd)
		if d2, i2 := statIdentity(mem, st); d2 != dev || i2 != ino {
			t.Errorf("fstat of open %s = %d:%d, stat said %d:%d", p, d2, i2, dev, ino)
		}
	}
}

// direntNames decodes linux_dirent64 records.
func direntNames(b []byte) []string {
	var names []string
	for len(b) >= abi.SizeofDirent64Head {
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		name := b[abi.SizeofDirent64Head:reclen]
		names = append(names, string(name[:bytes.IndexByte(name, 0)]))
		b = b[reclen:]
	}
	return names
}

func TestSynthDirectoriesList(t *testing.T) {
	task, mem := synthTestTask(t)
	fd := mustSys(t, task, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/self")),
		abi.O_RDONLY|abi.O_DIRECTORY, 0)
	buf := mem.alloc(8192)
	n := mustSys(t, task, abi.SYS_GETDENTS64, fd, uint64(buf), 8192)
	names := strings.Join(direntNames(mem.bytesAt(buf, int(n))), " ")
	for _, want := range []string{". ", ".. ", " status ", " exe ", " fd ", " maps "} {
		if !strings.Contains(" "+names+" ", want) {
			t.Errorf("listing lacks %q: %s", want, names)
		}
	}
	if n := mustSys(t, task, abi.SYS_GETDENTS64, fd, uint64(buf), 8192); n != 0 {
		t.Errorf("second getdents64 = %d, want 0 at the end", n)
	}
	mustSys(t, task, abi.SYS_LSEEK, fd, 0, abi.SEEK_SET)
	if n := mustSys(t, task, abi.SYS_GETDENTS64, fd, uint64(buf), 8192); n == 0 {
		t.Error("getdents64 after rewinding returned nothing")
	}
	// A name relative to the directory descriptor is looked up in it.
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_NEWFSTATAT, fd, uint64(mem.str("status")), uint64(st), 0)
	if _, ino := statIdentity(mem, st); ino != synthIno("/proc/1/status") {
		t.Errorf("fstatat(dirfd, status) inode %d, want the hash of /proc/1/status", ino)
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_GETDENTS64, fd, 0x10, 8192)
}

func TestSynthReadlinkBadBufferIsEFAULT(t *testing.T) {
	task, mem := synthTestTask(t)
	wantErrno(t, abi.EFAULT, task, abi.SYS_READLINKAT, fdArg(abi.AT_FDCWD), uint64(mem.str("/proc/self")), 0x10, 64)
}

func TestSynthWalkHandlesDotDotLikeLinux(t *testing.T) {
	task, _ := synthTestTask(t)
	tests := []struct {
		path    string
		node    string // canonical path of the node reached, or
		outside string // the path handed back to the resolver
		errno   abi.Errno
	}{
		{path: "/proc/self/../cpuinfo", node: "/proc/cpuinfo"},
		{path: "/proc/1/task/1/../../status", node: "/proc/1/status"},
		{path: "/proc/../etc/passwd", outside: "/etc/passwd"},
		{path: "/dev/pts/../../etc/hostname", outside: "/etc/hostname"},
		{path: "/dev/pts/../null", node: "/dev/null"},
		{path: "/dev/fd/3/../x", outside: "/proc/self/fd/3/../x"},
		{path: "/proc/self/root/etc", outside: "/etc"},
		{path: "/proc/self/status/", errno: abi.ENOTDIR},
		{path: "/proc/2/status", errno: abi.ENOENT},
		{path: "/etc/passwd"},
	}
	for _, tt := range tests {
		w, ok, err := task.synthLookup(tt.path, true)
		var node string
		if w.node != nil {
			node = w.node.path
		}
		if ok != (tt.path != "/etc/passwd") || fileErrnoOf(err) != tt.errno || node != tt.node || w.outside != tt.outside {
			t.Errorf("synthLookup(%s) = node %q outside %q ok %v err %v; want node %q outside %q errno %d",
				tt.path, node, w.outside, ok, err, tt.node, tt.outside, tt.errno)
		}
	}
}
