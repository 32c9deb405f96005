package kernel

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Only a pseudo-terminal follower is looked up as a guest session's
// terminal: not its leader, not another character device.
func TestPtyFollowerDev(t *testing.T) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if dev, ok := ptyFollowerDev(int(f.Fd())); !ok || dev != st.Rdev {
		t.Errorf("follower: %#x, %v; want %#x, true", dev, ok, st.Rdev)
	}
	for name, fd := range map[string]uintptr{"leader": m.Fd(), "/dev/null": null.Fd()} {
		if _, ok := ptyFollowerDev(int(fd)); ok {
			t.Errorf("%s taken for a follower", name)
		}
	}
}
