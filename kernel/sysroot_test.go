package kernel

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// newRootTestTask returns a file-test task whose guest sees a fresh root
// directory (returned, canonical) holding etc/motd, a symlink out of it
// and a bind of a host directory at /mnt/b (ro when ro is set).
func newRootTestTask(t *testing.T, ro bool) (*Task, *fileTestMem, string, string) {
	t.Helper()
	task, mem := newFileTestTask(t)
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(top, "root")
	bind := filepath.Join(top, "bind")
	for _, d := range []string{root + "/etc", root + "/mnt/b", bind} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(top, "secret"), []byte("SECRET"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/motd"), []byte("motd"), 0o644)
	os.WriteFile(filepath.Join(bind, "f"), []byte("bound"), 0o644)
	os.Symlink(filepath.Join(top, "secret"), filepath.Join(root, "etc/out"))
	os.Symlink("../../../../../../secret", filepath.Join(root, "etc/out-rel"))
	r, err := NewRoot(root, []BindMount{{Host: bind, Guest: "/mnt/b", ReadOnly: ro}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	task.Proc.Kernel.Root = r
	return task, mem, root, top
}

func TestRootGuestPathStripsTheRoot(t *testing.T) {
	task, _, root, top := newRootTestTask(t, false)
	r := task.root()
	cases := []struct {
		host, guest string
		ok          bool
	}{
		{root, "/", true},
		{root + "/etc/motd", "/etc/motd", true},
		{top + "/bind", "/mnt/b", true},
		{top + "/bind/x/y", "/mnt/b/x/y", true},
		{top + "/secret", "", false},
		{root + "x/etc", "", false}, // a sibling sharing the prefix
		{"/etc/passwd", "", false},
	}
	for _, c := range cases {
		g, ok := r.GuestPath(c.host)
		if g != c.guest || ok != c.ok {
			t.Errorf("GuestPath(%q) = %q, %v; want %q, %v", c.host, g, ok, c.guest, c.ok)
		}
	}
}

func TestRootOpenStaysInside(t *testing.T) {
	task, mem, _, top := newRootTestTask(t, true)
	buf := mem.alloc(64)
	read := func(path string) (string, abi.Errno) {
		fd, err := fileSys(task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDONLY)
		if err != nil {
			return "", fileErrnoOf(err)
		}
		defer fileSys(task, abi.SYS_CLOSE, fd)
		n, err := fileSys(task, abi.SYS_READ, fd, uint64(buf), 64)
		if err != nil {
			return "", fileErrnoOf(err)
		}
		return string(mem.bytesAt(buf, int(n))), 0
	}
	cases := []struct {
		path  string
		want  string
		errno abi.Errno
	}{
		{"/etc/motd", "motd", 0},
		{"/../../../etc/motd", "motd", 0},
		{top + "/secret", "", abi.ENOENT},
		{"/etc/out", "", abi.ENOENT},
		{"/etc/out-rel", "", abi.ENOENT},
		{"/mnt/b/f", "bound", 0},
		{"/mnt/b/../../etc/motd", "motd", 0},
		{"/mnt/b/../../../../../../" + top + "/secret", "", abi.ENOENT},
	}
	for _, c := range cases {
		got, errno := read(c.path)
		if got != c.want || errno != c.errno {
			t.Errorf("read %s = %q, errno %v; want %q, errno %v", c.path, got, errno, c.want, c.errno)
		}
	}
	wantErrno(t, abi.EROFS, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/new")), abi.O_WRONLY|abi.O_CREAT, 0o644)
	wantErrno(t, abi.EROFS, task, abi.SYS_UNLINK, uint64(mem.str("/mnt/b/f")))
	wantErrno(t, abi.ENOENT, task, abi.SYS_LINK, uint64(mem.str(top+"/secret")), uint64(mem.str("/stolen")))
}

func TestRootNoFollowActsOnTheLink(t *testing.T) {
	task, mem, root, top := newRootTestTask(t, false)
	// lstat sees the link, stat follows it inside the root (ENOENT).
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_LSTAT, uint64(mem.str("/etc/out")), uint64(st))
	wantErrno(t, abi.ENOENT, task, abi.SYS_STAT, uint64(mem.str("/etc/out")), uint64(st))
	// readlink returns the stored text.
	buf := mem.alloc(256)
	n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str("/etc/out")), uint64(buf), 256)
	if got := string(mem.bytesAt(buf, int(n))); got != top+"/secret" {
		t.Errorf("readlink = %q", got)
	}
	// unlink removes the link inside the root, not its target.
	mustSys(t, task, abi.SYS_UNLINK, uint64(mem.str("/etc/../etc/out")))
	if _, err := os.Lstat(filepath.Join(root, "etc/out")); !os.IsNotExist(err) {
		t.Errorf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(top, "secret")); err != nil {
		t.Errorf("secret gone: %v", err)
	}
	// A trailing slash on a file is ENOTDIR; on a new directory it works.
	wantErrno(t, abi.ENOTDIR, task, abi.SYS_RMDIR, uint64(mem.str("/etc/motd/")))
	mustSys(t, task, abi.SYS_MKDIR, uint64(mem.str("/newdir/")), 0o755)
	if st, err := os.Stat(filepath.Join(root, "newdir")); err != nil || !st.IsDir() {
		t.Errorf("mkdir with a trailing slash: %v", err)
	}
	// rmdir of "." is EINVAL, as on Linux.
	wantErrno(t, abi.EINVAL, task, abi.SYS_RMDIR, uint64(mem.str("/newdir/.")))
}

func TestRootDirfdRelativeLookups(t *testing.T) {
	task, mem, _, _ := newRootTestTask(t, false)
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/etc")), abi.O_RDONLY|abi.O_DIRECTORY)
	cases := []struct {
		path  string
		errno abi.Errno
	}{
		{"motd", 0},
		{"../etc/motd", 0},
		{"../../../../etc/motd", 0},
		{"out", abi.ENOENT},
		{"../mnt/b/f", 0},
	}
	st := mem.alloc(abi.SizeofStat)
	for _, c := range cases {
		_, err := fileSys(task, abi.SYS_NEWFSTATAT, fdArg(int32(dfd)), uint64(mem.str(c.path)), uint64(st), 0)
		if got := fileErrnoOf(err); got != c.errno {
			t.Errorf("fstatat(/etc, %q) errno %v, want %v", c.path, got, c.errno)
		}
	}
}

func TestUnixSocketPathIsContained(t *testing.T) {
	task, _, root, top := newRootTestTask(t, true)
	host, release, err := task.UnixSocketPath("/etc/sock", true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if !strings.HasPrefix(host, "/proc/self/fd/") || len(host) >= unixPathMax {
		t.Errorf("bind path %q", host)
	}
	// The host path names the root's /etc.
	dir, _ := os.Readlink(strings.TrimSuffix(host, "/sock"))
	if dir != filepath.Join(root, "etc") {
		t.Errorf("bind path %q is in %q, want the root's etc", host, dir)
	}
	if _, _, err := task.UnixSocketPath(top+"/secret", false); fileErrnoOf(err) != abi.ENOENT {
		t.Errorf("connect outside: %v, want ENOENT", err)
	}
	if _, _, err := task.UnixSocketPath("/mnt/b/sock", true); fileErrnoOf(err) != abi.EROFS {
		t.Errorf("bind in a read-only bind: %v, want EROFS", err)
	}
}

func TestExeLinkShowsTheGuestPath(t *testing.T) {
	task, _, root, _ := newRootTestTask(t, false)
	task.Proc.Exe = filepath.Join(root, "etc/motd")
	if got := task.exeLink(); got != "/etc/motd" {
		t.Errorf("exeLink = %q, want /etc/motd", got)
	}
	if got := task.exeHostPath(); got != filepath.Join(root, "etc/motd") {
		t.Errorf("exeHostPath = %q", got)
	}
}

func TestTaskOpenerResolvesLikeOpen(t *testing.T) {
	task, _, _, top := newRootTestTask(t, false)
	open := task.Opener()
	f, err := open("/etc/../etc/motd")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "motd" {
		t.Errorf("read %q", b)
	}
	for _, p := range []string{top + "/secret", "/etc/out", "/mnt/b/../../../secret", ""} {
		if f, err := open(p); !errors.Is(err, unix.ENOENT) {
			t.Errorf("open(%q) = %v, %v; want ENOENT", p, f, err)
			if f != nil {
				f.Close()
			}
		}
	}
}

func TestDescriptorLinksReadAsGuestPaths(t *testing.T) {
	task, mem, _, _ := newRootTestTask(t, false)
	fd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/etc/motd")), abi.O_RDONLY)
	bfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/f")), abi.O_RDONLY)
	buf := mem.alloc(256)
	cases := []struct {
		link, want string
	}{
		{"/proc/self/fd/" + strconv.Itoa(int(fd)), "/etc/motd"},
		{"/dev/fd/" + strconv.Itoa(int(bfd)), "/mnt/b/f"},
	}
	for _, c := range cases {
		n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str(c.link)), uint64(buf), 256)
		if got := string(mem.bytesAt(buf, int(n))); got != c.want {
			t.Errorf("readlink %s = %q, want %q", c.link, got, c.want)
		}
	}
	// Truncated like any readlink.
	n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str(cases[0].link)), uint64(buf), 4)
	if got := string(mem.bytesAt(buf, int(n))); got != "/etc" {
		t.Errorf("truncated readlink = %q", got)
	}
}

func TestFileBindIsReachable(t *testing.T) {
	task, mem, _, top := newRootTestTask(t, false)
	file := filepath.Join(top, "bind", "f")
	r, err := NewRoot(task.root().Dir(), []BindMount{{Host: file, Guest: "/etc/bound", ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	task.Proc.Kernel.Root = r
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_STAT, uint64(mem.str("/etc/bound")), uint64(st))
	mustSys(t, task, abi.SYS_LSTAT, uint64(mem.str("/etc/bound")), uint64(st))
	fd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/etc/../etc/bound")), abi.O_RDONLY)
	buf := mem.alloc(16)
	n := mustSys(t, task, abi.SYS_READ, fd, uint64(buf), 16)
	if got := string(mem.bytesAt(buf, int(n))); got != "bound" {
		t.Errorf("read %q", got)
	}
	wantErrno(t, abi.EROFS, task, abi.SYS_UNLINK, uint64(mem.str("/etc/bound")))
	wantErrno(t, abi.ENOTDIR, task, abi.SYS_STAT, uint64(mem.str("/etc/bound/x")), uint64(st))
}

func TestRootOpenKeepsOpenatLeniency(t *testing.T) {
	task, mem, _, _ := newRootTestTask(t, false)
	path := uint64(mem.str("/etc/motd"))
	// openat(2) ignores a mode without O_CREAT and unknown flag bits,
	// although the sysroot lookup is an openat2(2).
	fd := mustSys(t, task, abi.SYS_OPEN, path, abi.O_RDONLY|0x40000000, 0o644)
	mustSys(t, task, abi.SYS_CLOSE, fd)
	// openat2(2) itself keeps its checks.
	how := mem.alloc(abi.OPEN_HOW_SIZE_VER0)
	var h abi.OpenHow
	h.Mode = 0o644
	b := make([]byte, abi.OPEN_HOW_SIZE_VER0)
	h.MarshalBytes(b)
	mem.put(how, b)
	wantErrno(t, abi.EINVAL, task, abi.SYS_OPENAT2, fdArg(abi.AT_FDCWD), path, uint64(how), abi.OPEN_HOW_SIZE_VER0)
}

func TestRootRefusesDeviceNodes(t *testing.T) {
	task, mem, root, _ := newRootTestTask(t, false)
	cases := []struct {
		name  string
		mode  uint32
		errno abi.Errno
	}{
		{"blk", unix.S_IFBLK | 0o600, abi.EPERM},
		{"chr", unix.S_IFCHR | 0o600, abi.EPERM},
		{"fifo", unix.S_IFIFO | 0o600, 0},
		{"reg", unix.S_IFREG | 0o600, 0},
	}
	for _, c := range cases {
		_, err := fileSys(task, abi.SYS_MKNOD, uint64(mem.str("/"+c.name)), uint64(c.mode), unix.Mkdev(8, 0))
		if got := fileErrnoOf(err); got != c.errno {
			t.Errorf("mknod %s: errno %v, want %v", c.name, got, c.errno)
		}
		_, serr := os.Lstat(filepath.Join(root, c.name))
		if exists := serr == nil; exists != (c.errno == 0) {
			t.Errorf("mknod %s: node exists %v", c.name, exists)
		}
	}
}

func TestWalkCrossesBindsLikeMounts(t *testing.T) {
	task, mem, root, top := newRootTestTask(t, false)
	bind := filepath.Join(top, "bind")
	os.Symlink("/etc/motd", filepath.Join(bind, "to-root"))
	os.Symlink("/mnt/b/f", filepath.Join(root, "etc/to-bind"))
	os.Symlink("loop2", filepath.Join(root, "loop1"))
	os.Symlink("loop1", filepath.Join(root, "loop2"))
	os.Symlink("/", filepath.Join(bind, "slash"))
	buf := mem.alloc(64)
	read := func(path string) (string, abi.Errno) {
		fd, err := fileSys(task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDONLY)
		if err != nil {
			return "", fileErrnoOf(err)
		}
		defer fileSys(task, abi.SYS_CLOSE, fd)
		n, err := fileSys(task, abi.SYS_READ, fd, uint64(buf), 64)
		if err != nil {
			return "", fileErrnoOf(err)
		}
		return string(mem.bytesAt(buf, int(n))), 0
	}
	cases := []struct {
		path  string
		want  string
		errno abi.Errno
	}{
		{"/mnt/b/to-root", "motd", 0},
		{"/etc/to-bind", "bound", 0},
		{"/mnt/b/slash/etc/motd", "motd", 0},
		{"/mnt/b/slash/mnt/b/slash/mnt/b/f", "bound", 0},
		{"/mnt/b/slash/../../../" + top + "/secret", "", abi.ENOENT},
		{"/loop1", "", abi.ELOOP},
		{"/mnt/b/f/x", "", abi.ENOTDIR},
		{"/mnt/b/to-root/", "", abi.ENOTDIR},
	}
	for _, c := range cases {
		got, errno := read(c.path)
		if got != c.want || errno != c.errno {
			t.Errorf("read %s = %q, errno %v; want %q, errno %v", c.path, got, errno, c.want, c.errno)
		}
	}
	// No-follow calls act on the link the walk reaches.
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_LSTAT, uint64(mem.str("/mnt/b/slash/etc/to-bind")), uint64(st))
	mustSys(t, task, abi.SYS_UNLINK, uint64(mem.str("/mnt/b/slash/etc/to-bind")))
	if _, err := os.Lstat(filepath.Join(root, "etc/to-bind")); !os.IsNotExist(err) {
		t.Errorf("unlink through the walk left the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bind, "f")); err != nil {
		t.Errorf("unlink removed the target: %v", err)
	}
	// Creating through a symlinked directory lands where the link points.
	fd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/slash/etc/new")), abi.O_WRONLY|abi.O_CREAT|abi.O_EXCL, 0o644)
	mustSys(t, task, abi.SYS_CLOSE, fd)
	if _, err := os.Stat(filepath.Join(root, "etc/new")); err != nil {
		t.Errorf("create through the walk: %v", err)
	}
	wantErrno(t, abi.EEXIST, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/to-root")), abi.O_WRONLY|abi.O_CREAT|abi.O_EXCL, 0o644)
	os.Symlink("/etc/dangling-target", filepath.Join(bind, "dangling"))
	wantErrno(t, abi.EEXIST, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/dangling")), abi.O_WRONLY|abi.O_CREAT|abi.O_EXCL, 0o644)
	if _, err := os.Lstat(filepath.Join(root, "etc/dangling-target")); !os.IsNotExist(err) {
		t.Errorf("O_CREAT|O_EXCL followed a dangling symlink: %v", err)
	}
	// Without O_EXCL, O_CREAT creates a dangling symlink's target, in the
	// guest's root.
	fd = mustSys(t, task, abi.SYS_OPEN, uint64(mem.str("/mnt/b/dangling")), abi.O_WRONLY|abi.O_CREAT, 0o644)
	mustSys(t, task, abi.SYS_CLOSE, fd)
	if _, err := os.Lstat(filepath.Join(root, "etc/dangling-target")); err != nil {
		t.Errorf("O_CREAT through a dangling symlink: %v", err)
	}
}
