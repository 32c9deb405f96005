package supervisor

import (
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// Inherited descriptors. A program started from a shell inherits every
// descriptor its caller left open without FD_CLOEXEC (`prog 3<file`, a
// make jobserver's pipe, a socket-activation listener), so pid 1 must get
// them at the same numbers. The Go runtime opens everything close-on-exec,
// so the descriptors of elfuse's own process without the flag above
// stderr are exactly the inherited ones.

// closedStdio reports which of stdin, stdout and stderr the caller had
// closed. The Go runtime opens /dev/null read-write in place of a closed
// standard descriptor before main runs; a shell's redirections open it
// read-only or write-only, so a read-write /dev/null there (`<>/dev/null`
// aside) is the runtime's stand-in, and the guest must see the
// descriptor closed, as the program would natively.
func closedStdio() []int {
	var null unix.Stat_t
	if unix.Stat("/dev/null", &null) != nil {
		return nil
	}
	var closed []int
	for fd := range 3 {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != null.Rdev {
			continue
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil && fl&unix.O_ACCMODE == unix.O_RDWR {
			closed = append(closed, fd)
		}
	}
	return closed
}

// takeInherited returns the inherited descriptors above stderr, in
// order, and marks them close-on-exec so that they reach no guestproc by
// accident (a spare or a fork child holding a pipe's write end would keep
// its reader from seeing EOF): pid 1 gets them explicitly.
func takeInherited() []int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	self := int(d.Fd())
	var fds []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == self {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
	}
	d.Close()
	sort.Ints(fds)
	return fds
}

// fdNumbers converts descriptor numbers for the Start message.
func fdNumbers(fds []int) []int32 {
	out := make([]int32, len(fds))
	for i, fd := range fds {
		out[i] = int32(fd)
	}
	return out
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
