package kernel

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestStatFamilyMatchesHost(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("twelve bytes"), 0o640)
	link := filepath.Join(dir, "link")
	os.Symlink("file", link)
	fd, _ := openTemp(t, task, mem, "", abi.O_RDONLY)
	os.Remove(filepath.Join(t.TempDir(), "unused"))
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	hostFD, _ := task.Proc.FDs.Get(fd)

	tests := []struct {
		name   string
		nr     uint64
		args   func(buf abi.Addr) []uint64
		host   func(*unix.Stat_t) error
		isLink bool
	}{
		{"stat follows links", abi.SYS_STAT,
			func(b abi.Addr) []uint64 { return []uint64{uint64(mem.str(link)), uint64(b)} },
			func(s *unix.Stat_t) error { return unix.Stat(file, s) }, false},
		{"lstat does not", abi.SYS_LSTAT,
			func(b abi.Addr) []uint64 { return []uint64{uint64(mem.str(link)), uint64(b)} },
			func(s *unix.Stat_t) error { return unix.Lstat(link, s) }, true},
		{"fstat", abi.SYS_FSTAT,
			func(b abi.Addr) []uint64 { return []uint64{uint64(fd), uint64(b)} },
			func(s *unix.Stat_t) error { return unix.Fstat(hostFD, s) }, false},
		{"newfstatat relative to dirfd", abi.SYS_NEWFSTATAT,
			func(b abi.Addr) []uint64 {
				return []uint64{dfd, uint64(mem.str("link")), uint64(b), abi.AT_SYMLINK_NOFOLLOW}
			},
			func(s *unix.Stat_t) error { return unix.Lstat(link, s) }, true},
		{"newfstatat AT_EMPTY_PATH", abi.SYS_NEWFSTATAT,
			func(b abi.Addr) []uint64 {
				return []uint64{uint64(fd), uint64(mem.str("")), uint64(b), abi.AT_EMPTY_PATH}
			},
			func(s *unix.Stat_t) error { return unix.Fstat(hostFD, s) }, false},
		{"newfstatat AT_EMPTY_PATH with NULL path", abi.SYS_NEWFSTATAT,
			func(b abi.Addr) []uint64 { return []uint64{uint64(fd), 0, uint64(b), abi.AT_EMPTY_PATH} },
			func(s *unix.Stat_t) error { return unix.Fstat(hostFD, s) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := mem.alloc(abi.SizeofStat)
			mustSys(t, task, tc.nr, tc.args(buf)...)
			var want unix.Stat_t
			if err := tc.host(&want); err != nil {
				t.Fatal(err)
			}
			raw := mem.bytesAt(buf, abi.SizeofStat)
			// Offsets of struct stat on x86-64.
			if ino := binary.LittleEndian.Uint64(raw[8:]); ino != want.Ino {
				t.Errorf("st_ino = %d, want %d", ino, want.Ino)
			}
			if mode := binary.LittleEndian.Uint32(raw[24:]); mode != want.Mode {
				t.Errorf("st_mode = %#o, want %#o", mode, want.Mode)
			}
			if size := int64(binary.LittleEndian.Uint64(raw[48:])); size != want.Size {
				t.Errorf("st_size = %d, want %d", size, want.Size)
			}
			if ns := int64(binary.LittleEndian.Uint64(raw[96:])); ns != want.Mtim.Nsec {
				t.Errorf("st_mtim.tv_nsec = %d, want %d", ns, want.Mtim.Nsec)
			}
			if got := binary.LittleEndian.Uint32(raw[24:])&abi.S_IFMT == abi.S_IFLNK; got != tc.isLink {
				t.Errorf("symlink = %v, want %v", got, tc.isLink)
			}
		})
	}
	wantErrno(t, abi.ENOENT, task, abi.SYS_STAT, uint64(mem.str(filepath.Join(dir, "missing"))), uint64(mem.alloc(abi.SizeofStat)))
	wantErrno(t, abi.ENOENT, task, abi.SYS_STAT, uint64(mem.str("")), uint64(mem.alloc(abi.SizeofStat)))
	wantErrno(t, abi.EBADF, task, abi.SYS_NEWFSTATAT, 99, uint64(mem.str("x")), uint64(mem.alloc(abi.SizeofStat)), 0)
}

func TestStatxMatchesHost(t *testing.T) {
	task, mem := newFileTestTask(t)
	_, path := openTemp(t, task, mem, "statx!", abi.O_RDONLY)
	buf := mem.alloc(abi.SizeofStatx)
	mustSys(t, task, abi.SYS_STATX, fdArg(abi.AT_FDCWD), uint64(mem.str(path)), 0, unix.STATX_BASIC_STATS, uint64(buf))
	var want unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, &want); err != nil {
		t.Fatal(err)
	}
	var got abi.Statx
	got.UnmarshalBytes(mem.bytesAt(buf, abi.SizeofStatx))
	if got.Size != 6 || got.Ino != want.Ino || got.Mode != want.Mode || got.Mtime.Nsec != want.Mtime.Nsec ||
		got.Mask&unix.STATX_BASIC_STATS != want.Mask&unix.STATX_BASIC_STATS {
		t.Errorf("statx = %+v\nhost %+v", got, want)
	}
}

func TestStatfsMatchesHost(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	buf := mem.alloc(abi.SizeofStatfs)
	mustSys(t, task, abi.SYS_STATFS, uint64(mem.str(dir)), uint64(buf))
	var want unix.Statfs_t
	unix.Statfs(dir, &want)
	var got abi.Statfs
	got.UnmarshalBytes(mem.bytesAt(buf, abi.SizeofStatfs))
	if got.Type != want.Type || got.Bsize != want.Bsize || got.Namelen != want.Namelen {
		t.Errorf("statfs = %+v, host %+v", got, want)
	}
	fd, _ := openTemp(t, task, mem, "", abi.O_RDONLY)
	mustSys(t, task, abi.SYS_FSTATFS, uint64(fd), uint64(buf))
}

func TestAccessFamily(t *testing.T) {
	task, mem := newFileTestTask(t)
	_, path := openTemp(t, task, mem, "", abi.O_RDONLY)
	os.Chmod(path, 0o600)
	p := uint64(mem.str(path))
	mustSys(t, task, abi.SYS_ACCESS, p, unix.R_OK|unix.W_OK)
	if os.Geteuid() != 0 {
		wantErrno(t, abi.EACCES, task, abi.SYS_ACCESS, p, unix.X_OK)
	}
	mustSys(t, task, abi.SYS_FACCESSAT, fdArg(abi.AT_FDCWD), p, unix.F_OK)
	mustSys(t, task, abi.SYS_FACCESSAT2, fdArg(abi.AT_FDCWD), p, unix.R_OK, abi.AT_EACCESS)
	wantErrno(t, abi.ENOENT, task, abi.SYS_ACCESS, uint64(mem.str(path+".missing")), unix.F_OK)
	wantErrno(t, abi.EINVAL, task, abi.SYS_FACCESSAT2, fdArg(abi.AT_FDCWD), p, unix.R_OK, 0x8000)
}

func TestNamespaceOperations(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	at := func(name string) uint64 { return uint64(mem.str(filepath.Join(dir, name))) }
	cwd := fdArg(abi.AT_FDCWD)
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	rel := func(name string) uint64 { return uint64(mem.str(name)) }

	mustSys(t, task, abi.SYS_MKDIR, at("d"), 0o755)
	mustSys(t, task, abi.SYS_MKDIRAT, dfd, rel("d/sub"), 0o700)
	wantErrno(t, abi.EEXIST, task, abi.SYS_MKDIR, at("d"), 0o755)
	wantErrno(t, abi.ENOTEMPTY, task, abi.SYS_RMDIR, at("d"))
	mustSys(t, task, abi.SYS_UNLINKAT, dfd, rel("d/sub"), abi.AT_REMOVEDIR)
	mustSys(t, task, abi.SYS_RMDIR, at("d"))
	wantErrno(t, abi.EINVAL, task, abi.SYS_UNLINKAT, dfd, rel("x"), 0x1)

	os.WriteFile(filepath.Join(dir, "a"), []byte("A"), 0o644)
	mustSys(t, task, abi.SYS_RENAME, at("a"), at("b"))
	os.WriteFile(filepath.Join(dir, "c"), []byte("C"), 0o644)
	wantErrno(t, abi.EEXIST, task, abi.SYS_RENAMEAT2, dfd, rel("b"), dfd, rel("c"), abi.RENAME_NOREPLACE)
	mustSys(t, task, abi.SYS_RENAMEAT2, dfd, rel("b"), dfd, rel("c"), abi.RENAME_EXCHANGE)
	if b, _ := os.ReadFile(filepath.Join(dir, "c")); string(b) != "A" {
		t.Errorf("RENAME_EXCHANGE: c = %q", b)
	}
	mustSys(t, task, abi.SYS_RENAMEAT, cwd, at("c"), dfd, rel("e"))
	mustSys(t, task, abi.SYS_LINK, at("e"), at("hard"))
	mustSys(t, task, abi.SYS_LINKAT, dfd, rel("e"), dfd, rel("hard2"), 0)
	var st unix.Stat_t
	unix.Stat(filepath.Join(dir, "e"), &st)
	if st.Nlink != 3 {
		t.Errorf("nlink = %d after two links, want 3", st.Nlink)
	}
	mustSys(t, task, abi.SYS_UNLINK, at("hard2"))
	wantErrno(t, abi.EISDIR, task, abi.SYS_UNLINK, uint64(mem.str(dir)))

	mustSys(t, task, abi.SYS_SYMLINK, rel("../target/as/is"), at("sym"))
	mustSys(t, task, abi.SYS_SYMLINKAT, rel("e"), dfd, rel("sym2"))
	if got, _ := os.Readlink(filepath.Join(dir, "sym")); got != "../target/as/is" {
		t.Errorf("symlink content %q", got)
	}
	wantErrno(t, abi.ENOENT, task, abi.SYS_SYMLINK, rel(""), at("sym3"))

	mustSys(t, task, abi.SYS_CHMOD, at("e"), 0o4711)
	unix.Stat(filepath.Join(dir, "e"), &st)
	if st.Mode&0o7777 != 0o4711 {
		t.Errorf("chmod: mode %#o", st.Mode&0o7777)
	}
	mustSys(t, task, abi.SYS_FCHMODAT, dfd, rel("e"), 0o600)
	fd := mustSys(t, task, abi.SYS_OPEN, at("e"), abi.O_RDWR)
	mustSys(t, task, abi.SYS_FCHMOD, fd, 0o640)
	unix.Stat(filepath.Join(dir, "e"), &st)
	if st.Mode&0o7777 != 0o640 {
		t.Errorf("fchmod: mode %#o", st.Mode&0o7777)
	}
	// Changing to our own ids (or -1) is always allowed.
	uid, gid := uint64(os.Getuid()), uint64(os.Getgid())
	mustSys(t, task, abi.SYS_CHOWN, at("e"), uid, gid)
	mustSys(t, task, abi.SYS_LCHOWN, at("sym"), uid, ^uint64(0))
	mustSys(t, task, abi.SYS_FCHOWN, fd, ^uint64(0), gid)
	mustSys(t, task, abi.SYS_FCHOWNAT, dfd, rel("sym2"), uid, gid, abi.AT_SYMLINK_NOFOLLOW)

	mustSys(t, task, abi.SYS_TRUNCATE, at("e"), 10)
	unix.Stat(filepath.Join(dir, "e"), &st)
	if st.Size != 10 {
		t.Errorf("truncate: size %d", st.Size)
	}
	mustSys(t, task, abi.SYS_FTRUNCATE, fd, 3)
	mustSys(t, task, abi.SYS_FALLOCATE, fd, 0, 0, 4096)
	mustSys(t, task, abi.SYS_FSYNC, fd)
	mustSys(t, task, abi.SYS_FDATASYNC, fd)
	mustSys(t, task, abi.SYS_SYNCFS, fd)
	mustSys(t, task, abi.SYS_SYNC_FILE_RANGE, fd, 0, 0, 0)
	mustSys(t, task, abi.SYS_FADVISE64, fd, 0, 0, unix.FADV_SEQUENTIAL)
	mustSys(t, task, abi.SYS_READAHEAD, fd, 0, 4096)
	unix.Stat(filepath.Join(dir, "e"), &st)
	if st.Size != 4096 {
		t.Errorf("ftruncate+fallocate: size %d", st.Size)
	}
	wantErrno(t, abi.EBADF, task, abi.SYS_FSYNC, 99)

	mustSys(t, task, abi.SYS_MKNOD, at("fifo"), abi.S_IFIFO|0o600, 0)
	mustSys(t, task, abi.SYS_MKNODAT, dfd, rel("fifo2"), abi.S_IFIFO|0o600, 0)
	unix.Lstat(filepath.Join(dir, "fifo2"), &st)
	if st.Mode&abi.S_IFMT != abi.S_IFIFO {
		t.Errorf("mknodat made mode %#o", st.Mode)
	}
}

func TestReadlink(t *testing.T) {
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	os.Symlink("some/where", filepath.Join(dir, "l"))
	tests := []struct {
		name string
		path string
		size uint64
		want string
	}{
		{"host link", filepath.Join(dir, "l"), 100, "some/where"},
		{"truncated to the buffer", filepath.Join(dir, "l"), 4, "some"},
		{"proc self exe is the guest image", "/proc/self/exe", 100, "/opt/guest/bin/prog"},
		{"proc self exe truncated", "/proc/self/exe", 4, "/opt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := mem.alloc(100)
			n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str(tc.path)), uint64(buf), tc.size)
			if got := string(mem.bytesAt(buf, int(n))); got != tc.want {
				t.Errorf("readlink = %q, want %q", got, tc.want)
			}
		})
	}
	buf := mem.alloc(100)
	wantErrno(t, abi.EINVAL, task, abi.SYS_READLINK, uint64(mem.str("/proc/self/exe")), uint64(buf), 0)
	wantErrno(t, abi.EINVAL, task, abi.SYS_READLINKAT, fdArg(abi.AT_FDCWD), uint64(mem.str(dir)), uint64(buf), 100)
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	n := mustSys(t, task, abi.SYS_READLINKAT, dfd, uint64(mem.str("l")), uint64(buf), 100)
	if string(mem.bytesAt(buf, int(n))) != "some/where" {
		t.Errorf("readlinkat relative to dirfd = %q", mem.bytesAt(buf, int(n)))
	}
}

func TestMagicPathsNameGuestDescriptors(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, _ := openTemp(t, task, mem, "magic", abi.O_RDONLY)
	// Move it to a guest number that differs from its host number.
	mustSys(t, task, abi.SYS_DUP2, uint64(fd), 40)
	for _, path := range []string{"/dev/fd/40", "/proc/self/fd/40"} {
		t.Run(path, func(t *testing.T) {
			nfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(path)), abi.O_RDONLY)
			buf := mem.alloc(8)
			n := mustSys(t, task, abi.SYS_READ, nfd, uint64(buf), 8)
			if string(mem.bytesAt(buf, int(n))) != "magic" {
				t.Errorf("read %q through %s", mem.bytesAt(buf, int(n)), path)
			}
		})
	}
	wantErrno(t, abi.ENOENT, task, abi.SYS_OPEN, uint64(mem.str("/dev/fd/41")), abi.O_RDONLY)
	// /proc/self/exe opens the guest image, not the test binary.
	task.Proc.Exe = "/bin/sh"
	buf := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_STAT, uint64(mem.str("/proc/self/exe")), uint64(buf))
	var want unix.Stat_t
	unix.Stat("/bin/sh", &want)
	var got abi.Stat
	got.UnmarshalBytes(mem.bytesAt(buf, abi.SizeofStat))
	if got.Ino != want.Ino {
		t.Errorf("stat /proc/self/exe gave inode %d, want /bin/sh's %d", got.Ino, want.Ino)
	}
}

func TestTimestamps(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, path := openTemp(t, task, mem, "", abi.O_RDWR)
	p := uint64(mem.str(path))
	mtime := func() (int64, int64) {
		var st unix.Stat_t
		unix.Stat(path, &st)
		return st.Mtim.Sec, st.Mtim.Nsec
	}
	ts := mem.alloc(32)
	(&abi.Timespec{Sec: 1000, Nsec: 5}).MarshalBytes(mem.bytesAt(ts, 16))
	(&abi.Timespec{Sec: 2000, Nsec: 7}).MarshalBytes(mem.bytesAt(ts+16, 16))
	mustSys(t, task, abi.SYS_UTIMENSAT, fdArg(abi.AT_FDCWD), p, uint64(ts), 0)
	if s, ns := mtime(); s != 2000 || ns != 7 {
		t.Errorf("utimensat: mtime %d.%09d", s, ns)
	}
	(&abi.Timespec{Sec: 3000, Nsec: 0}).MarshalBytes(mem.bytesAt(ts+16, 16))
	mustSys(t, task, abi.SYS_UTIMENSAT, uint64(fd), 0, uint64(ts), 0)
	if s, _ := mtime(); s != 3000 {
		t.Errorf("utimensat(fd, NULL): mtime %d", s)
	}
	wantErrno(t, abi.EINVAL, task, abi.SYS_UTIMENSAT, uint64(fd), 0, uint64(ts), abi.AT_SYMLINK_NOFOLLOW)
	tv := mem.alloc(32)
	(&abi.Timeval{Sec: 4000, Usec: 3}).MarshalBytes(mem.bytesAt(tv, 16))
	(&abi.Timeval{Sec: 5000, Usec: 9}).MarshalBytes(mem.bytesAt(tv+16, 16))
	mustSys(t, task, abi.SYS_UTIMES, p, uint64(tv))
	if s, ns := mtime(); s != 5000 || ns != 9000 {
		t.Errorf("utimes: mtime %d.%09d", s, ns)
	}
	(&abi.Timeval{Sec: 5000, Usec: 1e6}).MarshalBytes(mem.bytesAt(tv+16, 16))
	wantErrno(t, abi.EINVAL, task, abi.SYS_UTIMES, p, uint64(tv))
	mustSys(t, task, abi.SYS_FUTIMESAT, uint64(fd), 0, 0)
	if s, _ := mtime(); s < 1700000000 {
		t.Errorf("futimesat(fd, NULL, NULL) did not set now: %d", s)
	}
	ub := mem.alloc(16)
	(&abi.Utimbuf{Actime: 10, Modtime: 6000}).MarshalBytes(mem.bytesAt(ub, 16))
	mustSys(t, task, abi.SYS_UTIME, p, uint64(ub))
	if s, ns := mtime(); s != 6000 || ns != 0 {
		t.Errorf("utime: mtime %d.%09d", s, ns)
	}
}

func TestUmaskReturnsPrevious(t *testing.T) {
	task, _ := newFileTestTask(t)
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	if prev := mustSys(t, task, abi.SYS_UMASK, 0o077); prev != 0o022 {
		t.Errorf("umask returned %#o, want 022", prev)
	}
	if prev := mustSys(t, task, abi.SYS_UMASK, 0o1777); prev != 0o077 {
		t.Errorf("umask returned %#o, want 077", prev)
	}
	if cur := unix.Umask(0o022); cur != 0o777 {
		t.Errorf("umask kept %#o, want only the permission bits 0777", cur)
	}
}

func TestNameToHandleAtIsENOSYS(t *testing.T) {
	task, mem := newFileTestTask(t)
	wantErrno(t, abi.ENOSYS, task, abi.SYS_NAME_TO_HANDLE_AT, fdArg(abi.AT_FDCWD), uint64(mem.str("/")), 0, 0, 0)
}

// parseDirents returns the names (minus . and ..) and types in a getdents
// buffer; old selects struct linux_dirent.
func parseDirents(t *testing.T, b []byte, old bool) map[string]byte {
	t.Helper()
	out := map[string]byte{}
	for len(b) > 0 {
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		rec := b[:reclen]
		var name string
		var typ byte
		if old {
			name = string(rec[18:][:bytes.IndexByte(rec[18:], 0)])
			typ = rec[reclen-1]
		} else {
			name = string(rec[19:][:bytes.IndexByte(rec[19:], 0)])
			typ = rec[18]
		}
		if reclen%8 != 0 {
			t.Errorf("record %q has length %d, not a multiple of 8", name, reclen)
		}
		if name != "." && name != ".." {
			out[name] = typ
		}
		b = b[reclen:]
	}
	return out
}

func TestGetdentsListsDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		nr   uint64
		old  bool
	}{{"getdents64", abi.SYS_GETDENTS64, false}, {"getdents", abi.SYS_GETDENTS, true}} {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			dir := t.TempDir()
			want := map[string]byte{"sub": abi.DT_DIR, "lnk": abi.DT_LNK}
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			os.Symlink("x", filepath.Join(dir, "lnk"))
			for i := range 40 {
				name := strings.Repeat("f", i+1)
				os.WriteFile(filepath.Join(dir, name), nil, 0o644)
				want[name] = abi.DT_REG
			}
			dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
			got := map[string]byte{}
			buf := mem.alloc(512) // small: forces several calls
			for {
				n := mustSys(t, task, tc.nr, dfd, uint64(buf), 512)
				if n == 0 {
					break
				}
				for k, v := range parseDirents(t, mem.bytesAt(buf, int(n)), tc.old) {
					got[k] = v
				}
			}
			if len(got) != len(want) {
				t.Errorf("got %d entries, want %d", len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("entry %q type %d, want %d", k, got[k], v)
				}
			}
			mustSys(t, task, abi.SYS_LSEEK, dfd, 0, abi.SEEK_SET)
			wantErrno(t, abi.EINVAL, task, tc.nr, dfd, uint64(buf), 4)
		})
	}
}

func TestDirentsFrom64RejectsCorruptRecords(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
	}{
		{"short head", make([]byte, 10)},
		{"zero reclen", make([]byte, 24)},
		{"reclen past the buffer", func() []byte {
			b := make([]byte, 24)
			binary.LittleEndian.PutUint16(b[16:], 48)
			return b
		}()},
		{"name without NUL", func() []byte {
			b := bytes.Repeat([]byte{'a'}, 24)
			binary.LittleEndian.PutUint16(b[16:], 24)
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := direntsFrom64(tc.buf); err != abi.EIO {
				t.Errorf("direntsFrom64 = %v, want EIO", err)
			}
		})
	}
}

func TestCwdSyscalls(t *testing.T) {
	task, mem := newFileTestTask(t)
	orig, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(orig) })
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	mustSys(t, task, abi.SYS_CHDIR, uint64(mem.str(dir)))
	buf := mem.alloc(4096)
	n := mustSys(t, task, abi.SYS_GETCWD, uint64(buf), 4096)
	if got := string(mem.bytesAt(buf, int(n))); got != dir+"\x00" || int(n) != len(dir)+1 {
		t.Errorf("getcwd = %d %q, want %q with its NUL", n, got, dir)
	}
	mustSys(t, task, abi.SYS_CHDIR, uint64(mem.str("sub")))
	n = mustSys(t, task, abi.SYS_GETCWD, uint64(buf), 4096)
	if got := string(mem.bytesAt(buf, int(n)-1)); got != filepath.Join(dir, "sub") {
		t.Errorf("after relative chdir: %q", got)
	}
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	mustSys(t, task, abi.SYS_FCHDIR, dfd)
	if wd, _ := os.Getwd(); wd != dir {
		t.Errorf("fchdir: cwd %q", wd)
	}
	wantErrno(t, abi.ERANGE, task, abi.SYS_GETCWD, uint64(buf), uint64(len(dir)))
	wantErrno(t, abi.ENOTDIR, task, abi.SYS_CHDIR, uint64(mem.str("/etc/passwd")))
}

func TestPathTooLongIsENAMETOOLONG(t *testing.T) {
	task, mem := newFileTestTask(t)
	long := "/" + strings.Repeat("a", abi.PATH_MAX+10)
	wantErrno(t, abi.ENAMETOOLONG, task, abi.SYS_OPEN, uint64(mem.str(long)), abi.O_RDONLY)
}

func TestOpenDirectoryListsSorted(t *testing.T) {
	// A sanity check that a guest-opened directory reads like the host's.
	task, mem := newFileTestTask(t)
	dir := t.TempDir()
	for _, n := range []string{"b", "a", "c"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dir)), abi.O_RDONLY|abi.O_DIRECTORY)
	buf := mem.alloc(4096)
	n := mustSys(t, task, abi.SYS_GETDENTS64, dfd, uint64(buf), 4096)
	var names []string
	for k := range parseDirents(t, mem.bytesAt(buf, int(n)), false) {
		names = append(names, k)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("names %v", names)
	}
}

func TestMagicLinksReadLikeLinux(t *testing.T) {
	task, mem := newFileTestTask(t)
	fd, path := openTemp(t, task, mem, "", abi.O_RDONLY)
	mustSys(t, task, abi.SYS_DUP2, uint64(fd), 40)
	tests := []struct {
		link string
		want string
	}{
		// /dev/stdin itself is an ordinary symlink; only following it
		// reaches a guest descriptor.
		{"/dev/stdin", "/proc/self/fd/0"},
		{"/proc/self/fd/40", path},
		{"/dev/fd/40", path},
	}
	for _, tc := range tests {
		t.Run(tc.link, func(t *testing.T) {
			if _, err := os.Lstat(tc.link); err != nil && tc.link == "/dev/stdin" {
				t.Skipf("host has no %s: %v", tc.link, err)
			}
			buf := mem.alloc(256)
			n := mustSys(t, task, abi.SYS_READLINK, uint64(mem.str(tc.link)), uint64(buf), 256)
			if got := string(mem.bytesAt(buf, int(n))); got != tc.want {
				t.Errorf("readlink(%s) = %q, want %q", tc.link, got, tc.want)
			}
		})
	}
	st := mem.alloc(abi.SizeofStat)
	if _, err := os.Lstat("/dev/stdin"); err == nil {
		mustSys(t, task, abi.SYS_LSTAT, uint64(mem.str("/dev/stdin")), uint64(st))
		if mode := mem.u32(st + 24); mode&abi.S_IFMT != abi.S_IFLNK {
			t.Errorf("lstat(/dev/stdin) mode %#o, want a symlink", mode)
		}
	}
}

func TestFileSyscallsAreRegistered(t *testing.T) {
	want := strings.Fields(`read write pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2
		open openat openat2 creat close close_range lseek dup dup2 dup3 fcntl pipe pipe2 stat fstat
		lstat newfstatat statx access faccessat faccessat2 getdents64 getdents getcwd chdir fchdir
		mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat
		readlink readlinkat chmod fchmod fchmodat chown fchown lchown fchownat truncate ftruncate
		fallocate fsync fdatasync sync syncfs umask utime utimes utimensat futimesat statfs fstatfs
		poll ppoll select pselect6 epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait ioctl
		sendfile copy_file_range splice tee eventfd eventfd2 memfd_create flock fadvise64 readahead
		mknod mknodat sync_file_range name_to_handle_at`)
	byName := map[string]Syscall{}
	for _, s := range Table() {
		byName[s.Name] = s
	}
	for _, name := range want {
		s, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("%s is not in the syscall table", name)
		case s.Fn == nil:
			t.Errorf("%s has no handler", name)
		case s.Support != Full && s.Note == "":
			t.Errorf("%s is not fully supported but has no Note", name)
		}
	}
}
