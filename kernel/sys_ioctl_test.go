package kernel

import (
	"fmt"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair on the host and installs the
// follower side as a guest fd; it skips when the host has no /dev/ptmx.
func openPTY(t *testing.T, task *Task) uint64 {
	t.Helper()
	leader, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals on this host: %v", err)
	}
	t.Cleanup(func() { unix.Close(leader) })
	if err := unix.IoctlSetPointerInt(leader, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(leader, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	follower, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("cannot open the pty follower: %v", err)
	}
	fd, err := task.Proc.FDs.Install(follower, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fd)
}

func TestIoctlTerminalAttributesRoundTrip(t *testing.T) {
	task, mem := newFileTestTask(t)
	tty := openPTY(t, task)
	tio := mem.alloc(abi.SizeofTermios + 8)
	mustSys(t, task, abi.SYS_IOCTL, tty, abi.TCGETS, uint64(tio))
	var got abi.Termios
	got.UnmarshalBytes(mem.bytesAt(tio, abi.SizeofTermios))
	got.Lflag &^= unix.ECHO | unix.ICANON
	got.CC[unix.VMIN] = 3
	got.MarshalBytes(mem.bytesAt(tio, abi.SizeofTermios))
	mustSys(t, task, abi.SYS_IOCTL, tty, abi.TCSETSW, uint64(tio))
	h, _ := task.Proc.FDs.Get(int32(tty))
	host, err := unix.IoctlGetTermios(h, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if host.Lflag&(unix.ECHO|unix.ICANON) != 0 || host.Cc[unix.VMIN] != 3 {
		t.Errorf("TCSETSW not applied: lflag %#x vmin %d", host.Lflag, host.Cc[unix.VMIN])
	}
	// The kernel's struct termios is 36 bytes: nothing past it is written.
	mem.put(tio+abi.SizeofTermios, []byte{0xAA})
	mustSys(t, task, abi.SYS_IOCTL, tty, abi.TCGETS, uint64(tio))
	if b := mem.bytesAt(tio+abi.SizeofTermios, 1)[0]; b != 0xAA {
		t.Errorf("TCGETS wrote past the 36-byte struct termios")
	}
	wantErrno(t, abi.EFAULT, task, abi.SYS_IOCTL, tty, abi.TCGETS, uint64(fileBadAddr))
}

func TestIoctlWindowSizeRoundTrip(t *testing.T) {
	task, mem := newFileTestTask(t)
	tty := openPTY(t, task)
	ws := mem.alloc(abi.SizeofWinsize)
	(&abi.Winsize{Row: 33, Col: 101}).MarshalBytes(mem.bytesAt(ws, abi.SizeofWinsize))
	mustSys(t, task, abi.SYS_IOCTL, tty, abi.TIOCSWINSZ, uint64(ws))
	out := mem.alloc(abi.SizeofWinsize)
	mustSys(t, task, abi.SYS_IOCTL, tty, abi.TIOCGWINSZ, uint64(out))
	var got abi.Winsize
	got.UnmarshalBytes(mem.bytesAt(out, abi.SizeofWinsize))
	if got.Row != 33 || got.Col != 101 {
		t.Errorf("TIOCGWINSZ = %+v", got)
	}
}

func TestIoctlOnNonTerminals(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, w := guestPipe(t, task, mem, 0)
	mustSys(t, task, abi.SYS_WRITE, w, uint64(mem.str("12345")), 5)
	n := mem.alloc(4)
	mustSys(t, task, abi.SYS_IOCTL, r, abi.FIONREAD, uint64(n))
	if mem.u32(n) != 5 {
		t.Errorf("FIONREAD = %d, want 5", mem.u32(n))
	}
	one := mem.alloc(4)
	mem.put(one, []byte{1, 0, 0, 0})
	mustSys(t, task, abi.SYS_IOCTL, r, abi.FIONBIO, uint64(one))
	if fl := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETFL); fl&abi.O_NONBLOCK == 0 {
		t.Errorf("FIONBIO did not set O_NONBLOCK")
	}
	mustSys(t, task, abi.SYS_IOCTL, r, abi.FIOCLEX)
	if v := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("FIOCLEX: F_GETFD = %d", v)
	}
	mustSys(t, task, abi.SYS_IOCTL, r, abi.FIONCLEX)
	if v := mustSys(t, task, abi.SYS_FCNTL, r, abi.F_GETFD); v != 0 {
		t.Errorf("FIONCLEX: F_GETFD = %d", v)
	}
	// A known request the host refuses for a pipe, an unknown request, and
	// a bad descriptor.
	wantErrno(t, abi.ENOTTY, task, abi.SYS_IOCTL, r, abi.TCGETS, uint64(mem.alloc(abi.SizeofTermios)))
	wantErrno(t, abi.ENOTTY, task, abi.SYS_IOCTL, r, 0x12345678, uint64(mem.alloc(64)))
	wantErrno(t, abi.EBADF, task, abi.SYS_IOCTL, 99, abi.FIONREAD, uint64(n))
	wantErrno(t, abi.EBADF, task, abi.SYS_IOCTL, 99, abi.FIOCLEX)
}

func TestIoctlOpensPseudoTerminalPairs(t *testing.T) {
	task, mem := newFileTestTask(t)
	ptmx, err := fileSys(task, abi.SYS_OPEN, uint64(mem.str("/dev/ptmx")), abi.O_RDWR|abi.O_NOCTTY)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	zero := mem.alloc(4)
	mustSys(t, task, abi.SYS_IOCTL, ptmx, abi.TIOCSPTLCK, uint64(zero))
	n := mem.alloc(4)
	mustSys(t, task, abi.SYS_IOCTL, ptmx, abi.TIOCGPTN, uint64(n))
	peer := mustSys(t, task, abi.SYS_IOCTL, ptmx, abi.TIOCGPTPEER, abi.O_RDWR|abi.O_NOCTTY|abi.O_CLOEXEC)
	if v := mustSys(t, task, abi.SYS_FCNTL, peer, abi.F_GETFD); v != abi.FD_CLOEXEC {
		t.Errorf("TIOCGPTPEER with O_CLOEXEC: F_GETFD = %d", v)
	}
	// The peer is the follower numbered by TIOCGPTN.
	st := mem.alloc(abi.SizeofStat)
	mustSys(t, task, abi.SYS_FSTAT, peer, uint64(st))
	var byPeer abi.Stat
	byPeer.UnmarshalBytes(mem.bytesAt(st, abi.SizeofStat))
	var byName unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/dev/pts/%d", mem.u32(n)), &byName); err != nil {
		t.Fatal(err)
	}
	if byPeer.Rdev != byName.Rdev {
		t.Errorf("peer rdev %#x, /dev/pts/%d rdev %#x", byPeer.Rdev, mem.u32(n), byName.Rdev)
	}
	msg := mem.str("ping\n")
	mustSys(t, task, abi.SYS_WRITE, ptmx, uint64(msg), 5)
	buf := mem.alloc(16)
	if got := mustSys(t, task, abi.SYS_READ, peer, uint64(buf), 16); string(mem.bytesAt(buf, int(got))) != "ping\n" {
		t.Errorf("follower read %q", mem.bytesAt(buf, int(got)))
	}
}
