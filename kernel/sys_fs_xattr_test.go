package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestXattrRoundTrip(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, path := openTemp(t, task, mem, "", abi.O_RDWR)
	if err := unix.Setxattr(path, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("host file system has no user xattrs: %v", err)
	}
	unix.Removexattr(path, "user.probe")
	link := filepath.Join(filepath.Dir(path), "link")
	os.Symlink(path, link)
	p, name := uint64(mem.str(path)), uint64(mem.str("user.elfuse"))
	val := mem.str("value!")
	mustSys(t, task, abi.SYS_SETXATTR, p, name, uint64(val), 6, abi.XATTR_CREATE)
	wantErrno(t, abi.EEXIST, task, abi.SYS_FSETXATTR, uint64(fd), name, uint64(val), 6, abi.XATTR_CREATE)
	if n := mustSys(t, task, abi.SYS_GETXATTR, uint64(mem.str(link)), name, 0, 0); n != 6 {
		t.Errorf("getxattr size query through a link = %d, want 6", n)
	}
	buf := mem.alloc(64)
	n := mustSys(t, task, abi.SYS_FGETXATTR, uint64(fd), name, uint64(buf), 64)
	if got := string(mem.bytesAt(buf, int(n))); got != "value!" {
		t.Errorf("fgetxattr = %q", got)
	}
	wantErrno(t, abi.ERANGE, task, abi.SYS_GETXATTR, p, name, uint64(buf), 3)
	wantErrno(t, abi.ENODATA, task, abi.SYS_LGETXATTR, uint64(mem.str(link)), name, uint64(buf), 64)
	n = mustSys(t, task, abi.SYS_LISTXATTR, p, uint64(buf), 64)
	if !strings.Contains(string(mem.bytesAt(buf, int(n))), "user.elfuse\x00") {
		t.Errorf("listxattr = %q", mem.bytesAt(buf, int(n)))
	}
	mustSys(t, task, abi.SYS_REMOVEXATTR, p, name)
	wantErrno(t, abi.ENODATA, task, abi.SYS_FREMOVEXATTR, uint64(fd), name)
	wantErrno(t, abi.ERANGE, task, abi.SYS_GETXATTR, p, uint64(mem.str("")), uint64(buf), 64)
	wantErrno(t, abi.ERANGE, task, abi.SYS_GETXATTR, p, uint64(mem.str("user."+strings.Repeat("n", 300))), uint64(buf), 64)
	wantErrno(t, abi.EINVAL, task, abi.SYS_SETXATTR, p, name, uint64(val), 6, 4)
	wantErrno(t, abi.E2BIG, task, abi.SYS_SETXATTR, p, name, uint64(val), abi.XATTR_SIZE_MAX+1, 0)
	wantErrno(t, abi.EFAULT, task, abi.SYS_FGETXATTR, uint64(fd), name, uint64(fileBadAddr), 64)
}

func TestInotifyReportsEvents(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	ifd := mustSys(t, task, abi.SYS_INOTIFY_INIT1, abi.IN_NONBLOCK|abi.IN_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, ifd, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("IN_CLOEXEC not recorded")
	}
	wd := mustSys(t, task, abi.SYS_INOTIFY_ADD_WATCH, ifd, uint64(mem.str(dir)), unix.IN_CREATE)
	buf := mem.alloc(256)
	wantErrno(t, abi.EAGAIN, task, abi.SYS_READ, ifd, uint64(buf), 256)
	os.WriteFile(filepath.Join(dir, "born"), nil, 0o600)
	n := mustSys(t, task, abi.SYS_READ, ifd, uint64(buf), 256)
	// struct inotify_event: wd, mask, cookie, len, name.
	if n < 16 || int32(mem.u32(buf)) != int32(wd) || mem.u32(buf+4)&unix.IN_CREATE == 0 {
		t.Fatalf("event %x", mem.bytesAt(buf, int(n)))
	}
	if name := strings.TrimRight(string(mem.bytesAt(buf+16, int(mem.u32(buf+12)))), "\x00"); name != "born" {
		t.Errorf("event name %q", name)
	}
	mustSys(t, task, abi.SYS_INOTIFY_RM_WATCH, ifd, wd)
	wantErrno(t, abi.EINVAL, task, abi.SYS_INOTIFY_RM_WATCH, ifd, wd)
	wantErrno(t, abi.EINVAL, task, abi.SYS_INOTIFY_INIT1, 1)
	wantErrno(t, abi.ENOENT, task, abi.SYS_INOTIFY_ADD_WATCH, ifd, uint64(mem.str(dir+"/missing")), unix.IN_CREATE)
	mustSys(t, task, abi.SYS_INOTIFY_INIT)
}
