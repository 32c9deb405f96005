package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
	"golang.org/x/sys/unix"
)

// TestDevShmIsAFileSystemOfItsOwn: the guest's /dev/shm is memory and a
// mount point of its own, as the host's is: statfs says tmpfs, its device
// is not the root's, df tells it from / (busybox df names the mount of a
// path by its device), and a file written there reads back. As the cwd,
// getcwd names it /dev/shm and .. climbs back into /dev. It compares with
// the host's own /dev/shm, so it needs that to be a tmpfs.
func TestDevShmIsAFileSystemOfItsOwn(t *testing.T) {
	requireBusybox(t)
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skip("the host's /dev/shm is no tmpfs: nothing native to compare with")
	}
	script := `stat -f -c %T /dev/shm
[ "$(stat -c %d /)" != "$(stat -c %d /dev/shm)" ] && echo a device of its own
df /dev/shm | tail -1 | awk '{print $NF}'
df / | tail -1 | awk '{print $NF}'
f=/dev/shm/elfuse-test-$$; echo written > $f && cat $f && rm $f
d=elfuse-test-cwd-$$; cd /dev/shm && pwd -P && mkdir $d && cd $d && pwd -P | sed "s/$d/D/"
echo in > ../$d.f && cat /dev/shm/$d.f && rm ../$d.f; stat -c %n ../../null; ls .. | grep -c "^$d$"; cd / && rmdir /dev/shm/$d`
	testutil.RunCase(t, elfuse, testutil.Case{Name: "dev_shm", Args: sh(script)})
}

// shmDirsOfDeadTrees lists the tree directories under the host's /dev/shm
// whose supervisor is gone.
func shmDirsOfDeadTrees(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/dev/shm")
	if err != nil {
		return nil
	}
	var dead []string
	for _, e := range ents {
		pid, ok := strings.CutPrefix(e.Name(), "elfuse-shm-")
		if !ok {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err != nil {
			dead = append(dead, e.Name())
		}
	}
	return dead
}

// TestDevShmSymlinksAreFollowedFromTheRoot: a symlink in /dev/shm is the
// guest's, and leads where it says as on Linux: an absolute target from the
// root, a relative one from its directory (through /dev with ".."), a
// dangling one to a file O_CREAT makes, a loop to ELOOP; lstat and
// readlink see the link itself.
func TestDevShmSymlinksAreFollowedFromTheRoot(t *testing.T) {
	requireBusybox(t)
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skip("the host's /dev/shm is no tmpfs: nothing native to compare with")
	}
	script := `w=$(mktemp -d); s=/dev/shm/elfuse-test-links-$$; mkdir $s
echo target > $w/t; echo inner > $s/x; mkdir $s/d; echo deep > $s/d/f
ln -s $w/t $s/abs; ln -s ../$(basename $s)/x $s/up; ln -s x $s/rel; ln -s d $s/ld
ln -s $s/ld $s/absdir; ln -s loop $s/loop; ln -s $w/new $s/dangling; ln -s /proc/self/comm $s/comm
cat $s/abs $s/up $s/rel $s/ld/f $s/absdir/f $s/comm
cat $s/loop 2>&1 | sed 's/.*: //'
echo made > $s/dangling; cat $w/new
readlink $s/abs | sed "s|$w|W|"; stat -c %F $s/abs $s/absdir; stat -L -c %F $s/abs $s/absdir
cd $s/absdir && pwd -P | sed "s|$s|S|"; cd /
rm -r $s $w`
	testutil.RunCase(t, elfuse, testutil.Case{Name: "dev_shm_links", Args: sh(script)})
}

// TestDeadTreesDirsAreSwept: a supervisor killed by SIGKILL leaves its
// private directories (the guest's /dev/shm, with the guest's shared
// memory in it); the next elfuse removes them, and leaves a live tree's.
func TestDeadTreesDirsAreSwept(t *testing.T) {
	requireBusybox(t)
	bin := elfuse.Require(t)
	tmp := t.TempDir()
	env := append(testutil.Env(), "TMPDIR="+tmp, "XDG_RUNTIME_DIR="+t.TempDir())
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	dead, live := strconv.Itoa(ended.Process.Pid), strconv.Itoa(os.Getpid())
	for _, d := range []string{"elfuse-shm-" + dead, "elfuse-cwd-" + dead, "elfuse-shm-" + live} {
		if err := os.MkdirAll(filepath.Join(tmp, d, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, d, "sub", "segment"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := testutil.Backends()[0]
	testutil.RequireBackend(t, b)
	r, err := testutil.RunElfuse(bin, b, nil, testutil.Cmd{Args: bb("true"), Dir: t.TempDir(), Env: env})
	if err != nil || r.Status != 0 {
		t.Fatalf("elfuse true: %v, %v", r, err)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{"elfuse-shm-" + live}; !slices.Equal(left, want) {
		t.Errorf("TMPDIR holds %v after the run, want %v", left, want)
	}
}
