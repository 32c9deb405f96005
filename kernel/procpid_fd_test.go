package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// procTreeTarget returns the target process of procTreeTest's tree.
func procTreeTarget(reader *Task) *Process {
	return reader.Proc.Kernel.Host.(*procTreeTestHost).procs[2]
}

func TestProcOtherPidPipeLinkOpensThePipe(t *testing.T) {
	reader, mem := procTreeTest(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	fd, err := procTreeTarget(reader).FDs.installFile(newHostFile(p[0]), false, 10)
	if err != nil {
		t.Fatal(err)
	}
	link := "/proc/2/fd/" + strconv.Itoa(int(fd))
	if got, errno := readlinkString(t, reader, mem, link); errno != 0 || !strings.HasPrefix(got, "pipe:[") {
		t.Fatalf("readlink %s = %q, errno %d", link, got, errno)
	}
	if _, err := unix.Write(p[1], []byte("through the link")); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[1])
	if got := string(readAllGuest(t, reader, mem, link)); got != "through the link" {
		t.Errorf("read %s = %q", link, got)
	}
	if _, err := fileSys(reader, abi.SYS_OPENAT, fdArg(abi.AT_FDCWD), uint64(mem.str(link+"/x")), abi.O_RDONLY, 0); !errors.Is(err, abi.ENOTDIR) {
		t.Errorf("open %s/x: %v, want ENOTDIR", link, err)
	}
}

// A descriptor number that now holds something else than the link named
// (the target closed it and reused the number) must not be opened: it
// could be a host file outside the guest's root.
func TestProcPeerOpenChecksTheObject(t *testing.T) {
	f := filepath.Join(t.TempDir(), "host-only")
	if err := os.WriteFile(f, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	hfd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(hfd)
	pf := &procPeerFD{hostPid: os.Getpid(), hostFD: hfd, target: "pipe:[1]"}
	if fd, err := pf.open(nil, unix.OpenHow{Flags: unix.O_RDONLY}); !errors.Is(err, abi.ENOENT) {
		if err == nil {
			unix.Close(fd)
		}
		t.Errorf("open of a reused number: %v, want ENOENT", err)
	}
	if _, err := pf.peerPath(nil); !errors.Is(err, abi.ENOENT) {
		t.Errorf("path of a reused number: %v, want ENOENT", err)
	}
}

func TestFdLinkMode(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	opath, err := unix.Open(".", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(opath)
	for _, c := range []struct {
		fd   int
		want uint32
	}{{p[0], unix.S_IFLNK | 0o500}, {p[1], unix.S_IFLNK | 0o300}, {opath, unix.S_IFLNK}} {
		if got := fdLinkMode(c.fd); got != c.want {
			t.Errorf("fdLinkMode(%d) = %o, want %o", c.fd, got, c.want)
		}
	}
}
