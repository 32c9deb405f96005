package supervisor

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestTakeInheritedFindsOnlyDescriptorsWithoutCloexec(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil { // no O_CLOEXEC: "inherited"
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var q [2]int
	if err := unix.Pipe2(q[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(q[0])
	defer unix.Close(q[1])

	got := takeInherited()
	for _, fd := range p {
		if !slices.Contains(got, fd) {
			t.Errorf("inherited %v, want it to contain %d", got, fd)
		}
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d left without FD_CLOEXEC", fd)
		}
	}
	for _, fd := range q {
		if slices.Contains(got, fd) {
			t.Errorf("inherited %v contains close-on-exec fd %d", got, fd)
		}
	}
	if again := takeInherited(); slices.Contains(again, p[0]) {
		t.Errorf("second scan still reports %d: %v", p[0], again)
	}
}
