package guestproc

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/elfuse/elfuse/ipc"
	"golang.org/x/sys/unix"
)

// The supervisor's job-control generation (supervisor/jobgen.go), mapped
// read-only; nil when the supervisor gave none.
var jobGenMem []byte

// mapJobGen maps descriptor ipc.GuestprocJobGenFD, if the supervisor
// passed one, and closes it.
//
// Without the page the number may be free, or taken by a descriptor the Go
// runtime opened since (its epoll): only the supervisor's memfd, known by
// its name, is mapped and closed.
func mapJobGen() {
	fd := ipc.GuestprocJobGenFD
	name, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(name, "/memfd:elfuse-jobgen") {
		return
	}
	defer unix.Close(fd)
	mem, err := unix.Mmap(fd, 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED)
	if err == nil {
		jobGenMem = mem
	}
}

// jobGen returns the current generation (ok false without the page).
func jobGen() (uint64, bool) {
	if jobGenMem == nil {
		return 0, false
	}
	return loadJobGen(jobGenMem), true
}

// ttyVerdict is a remembered "go ahead" for terminal access (dev: the
// pseudo-terminal a guest session may own, 0 for elfuse's terminal).
type ttyVerdict struct {
	gen     uint64
	dev     uint64
	sig     int32
	ignored bool
}

// ttyCache holds the last "go ahead" verdict of this guestproc's process.
type ttyCache struct{ v atomic.Pointer[ttyVerdict] }

// lookup reports whether a "go ahead" for (sig, ignored) is still valid.
func (c *ttyCache) lookup(sig int32, ignored bool) (gen uint64, hit, ok bool) {
	return c.lookupDev(0, sig, ignored)
}

// lookupDev is lookup for terminal dev.
func (c *ttyCache) lookupDev(dev uint64, sig int32, ignored bool) (gen uint64, hit, ok bool) {
	gen, ok = jobGen()
	if !ok {
		return 0, false, false
	}
	v := c.v.Load()
	return gen, v != nil && v.gen == gen && v.dev == dev && v.sig == sig && v.ignored == ignored, true
}

// remember stores a "go ahead" given while the generation was gen.
func (c *ttyCache) remember(gen uint64, sig int32, ignored bool) {
	c.rememberDev(gen, 0, sig, ignored)
}

// rememberDev is remember for terminal dev.
func (c *ttyCache) rememberDev(gen, dev uint64, sig int32, ignored bool) {
	c.v.Store(&ttyVerdict{gen: gen, dev: dev, sig: sig, ignored: ignored})
}
