package kernel

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestPtsPathNamesUnix98Followers(t *testing.T) {
	for _, c := range []struct {
		dev  uint64
		want string
		ok   bool
	}{
		{unix.Mkdev(136, 0), "/dev/pts/0", true},
		{unix.Mkdev(136, 255), "/dev/pts/255", true},
		{unix.Mkdev(137, 3), "/dev/pts/259", true},
		{unix.Mkdev(5, 0), "", false}, // /dev/tty itself
		{unix.Mkdev(4, 1), "", false}, // a virtual console
		{0, "", false},                // no terminal
	} {
		got, ok := ptsPath(c.dev)
		if got != c.want || ok != c.ok {
			t.Errorf("ptsPath(%d:%d) = %q, %v; want %q, %v", unix.Major(c.dev), unix.Minor(c.dev), got, ok, c.want, c.ok)
		}
	}
}
