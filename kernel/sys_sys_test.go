package kernel

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestUnameIsTheHosts(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(Uname, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	var hu unix.Utsname
	if err := unix.Uname(&hu); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, f := range [][abi.UTSLen]byte{hu.Sysname, hu.Nodename, hu.Release, hu.Version, hu.Machine, hu.Domainname} {
		want = append(want, f[:]...)
	}
	if got := e.bytesAt(testMemBase, abi.SizeofUtsname); !bytes.Equal(got, want) {
		t.Fatalf("uname differs from the host's:\n got %q\nwant %q", got, want)
	}
	if _, err := e.call(Uname, uint64(testMemEnd-100)); errnoOf(err) != abi.EFAULT {
		t.Fatalf("uname into a short buffer: %v, want EFAULT", err)
	}
}

func TestSysinfoIsTheHosts(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(SysinfoCall, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	var hi unix.Sysinfo_t
	if err := unix.Sysinfo(&hi); err != nil {
		t.Fatal(err)
	}
	b := e.bytesAt(testMemBase, abi.SizeofSysinfo)
	if got := binary.LittleEndian.Uint64(b[32:]); got != hi.Totalram {
		t.Errorf("totalram = %d, host %d", got, hi.Totalram)
	}
	if got := binary.LittleEndian.Uint32(b[104:]); got != hi.Unit {
		t.Errorf("mem_unit = %d, host %d", got, hi.Unit)
	}
	if up := int64(binary.LittleEndian.Uint64(b[0:])); up < hi.Uptime-2 || up > hi.Uptime {
		t.Errorf("uptime = %d, host %d", up, hi.Uptime)
	}
}

func TestGetrandom(t *testing.T) {
	tests := []struct {
		name    string
		addr    abi.Addr
		count   uint64
		flags   uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"fills the buffer", testMemBase, 64, 0, 64, 0},
		{"nonblocking", testMemBase, 16, grndNonblock, 16, 0},
		{"insecure", testMemBase, 16, grndInsecure, 16, 0},
		{"zero bytes", testMemBase, 0, 0, 0, 0},
		{"unknown flag is EINVAL", testMemBase, 16, 8, 0, abi.EINVAL},
		{"random with insecure is EINVAL", testMemBase, 16, grndRandom | grndInsecure, 0, abi.EINVAL},
		{"unmapped buffer is EFAULT", testBadAddr, 16, 0, 0, abi.EFAULT},
		{"buffer running off the mapping is partial", testMemEnd - 10, 100, 0, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			got, err := e.call(Getrandom, uint64(tc.addr), tc.count, tc.flags)
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
			if tc.want >= 16 && bytes.Equal(e.bytesAt(tc.addr, int(tc.want)), make([]byte, tc.want)) {
				t.Fatalf("buffer still zero")
			}
		})
	}
}

func TestPersonalityQueryAndSet(t *testing.T) {
	e := newProcTestEnv(t)
	if got, _ := e.call(Personality, abi.PER_QUERY); got != abi.PER_LINUX {
		t.Fatalf("initial personality = %#x", got)
	}
	const addrNoRandomize = 0x0040000
	if got, _ := e.call(Personality, addrNoRandomize); got != abi.PER_LINUX {
		t.Fatalf("set returned %#x, want old PER_LINUX", got)
	}
	if got, _ := e.call(Personality, abi.PER_QUERY); got != addrNoRandomize {
		t.Fatalf("query after set = %#x", got)
	}
}

func TestGetrusage(t *testing.T) {
	tests := []struct {
		name    string
		who     int32
		wantErr abi.Errno
	}{
		{"self", abi.RUSAGE_SELF, 0},
		{"thread", abi.RUSAGE_THREAD, 0},
		{"children", abi.RUSAGE_CHILDREN, 0},
		{"both is EINVAL", abi.RUSAGE_BOTH, abi.EINVAL},
		{"unknown is EINVAL", 5, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			_, err := e.call(Getrusage, uint64(uint32(tc.who)), uint64(testMemBase))
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
		})
	}
}

func TestGetrusageSelfIsHostUsageAndChildrenAccumulate(t *testing.T) {
	e := newProcTestEnv(t)
	if _, err := e.call(Getrusage, abi.RUSAGE_SELF, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	var hr unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &hr); err != nil {
		t.Fatal(err)
	}
	b := e.bytesAt(testMemBase, abi.SizeofRusage)
	if maxrss := int64(binary.LittleEndian.Uint64(b[32:])); maxrss <= 0 || maxrss > hr.Maxrss {
		t.Errorf("maxrss = %d, host %d", maxrss, hr.Maxrss)
	}
	e.t.Proc.AddChildUsage(abi.Rusage{Utime: abi.Timeval{Sec: 1, Usec: 600000}, Maxrss: 10, Minflt: 3})
	e.t.Proc.AddChildUsage(abi.Rusage{Utime: abi.Timeval{Usec: 500000}, Maxrss: 7, Minflt: 4})
	if _, err := e.call(Getrusage, uint64(0xffffffff), uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	utSec, utUsec := binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	maxrss, minflt := binary.LittleEndian.Uint64(b[32:]), binary.LittleEndian.Uint64(b[64:])
	if utSec != 2 || utUsec != 100000 || maxrss != 10 || minflt != 7 {
		t.Fatalf("children usage utime %d.%06d maxrss %d minflt %d; want 2.100000, 10, 7", utSec, utUsec, maxrss, minflt)
	}
	ticks, err := e.call(Times, uint64(testMemBase))
	if err != nil || ticks == 0 {
		t.Fatalf("times = %d, %v", ticks, err)
	}
	if cutime := binary.LittleEndian.Uint64(e.bytesAt(testMemBase+16, 8)); cutime != 210 {
		t.Fatalf("tms_cutime = %d, want 210 ticks", cutime)
	}
	if _, err := e.call(Times, 0); err != nil {
		t.Fatalf("times(NULL): %v", err)
	}
}

func TestGetpriorityTargets(t *testing.T) {
	e := newProcTestEnv(t)
	host, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	uid := uint64(e.t.Proc.Creds().RUID)
	tests := []struct {
		name    string
		which   uint64
		who     uint64
		wantErr abi.Errno
	}{
		{"own process", abi.PRIO_PROCESS, 0, 0},
		{"own pid", abi.PRIO_PROCESS, 1, 0},
		{"own group", abi.PRIO_PGRP, 0, 0},
		{"own user", abi.PRIO_USER, uid, 0},
		{"other pid is ESRCH", abi.PRIO_PROCESS, 4242, abi.ESRCH},
		{"bad which is EINVAL", 3, 0, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.call(Getpriority, tc.which, tc.who)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
			if err == nil && int(got) != host {
				t.Fatalf("getpriority = %d, host %d", got, host)
			}
		})
	}
	if _, err := e.call(Setpriority, abi.PRIO_PROCESS, 4242, 0); errnoOf(err) != abi.ESRCH {
		t.Fatalf("setpriority other pid: %v, want ESRCH", err)
	}
}

// onThrowawayThread runs fn on a locked OS thread that is discarded
// afterwards, so host thread attributes it changes do not leak.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		defer close(done)
		fn()
	}()
	<-done
}

func TestSetpriorityLowersTheThreadsPriority(t *testing.T) {
	e := newProcTestEnv(t)
	var before, after int
	var err error
	onThrowawayThread(func() {
		before, _ = unix.Getpriority(unix.PRIO_PROCESS, 0)
		nice := 20 - before + 1
		if nice > 19 {
			nice = 19
		}
		_, err = e.call(Setpriority, abi.PRIO_PROCESS, 0, uint64(uint32(int32(nice))))
		after, _ = unix.Getpriority(unix.PRIO_PROCESS, 0)
		if got, _ := e.call(Getpriority, abi.PRIO_PROCESS, 0); int(got) != after {
			err = abi.EIO
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if before > 1 && after != before-1 {
		t.Fatalf("raw priority %d -> %d, want one lower", before, after)
	}
}

func TestIoprio(t *testing.T) {
	e := newProcTestEnv(t)
	host, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, abi.IOPRIO_WHO_PROCESS, 0, 0)
	if errno != 0 {
		t.Skipf("host ioprio_get: %v", errno)
	}
	tests := []struct {
		name    string
		which   uint64
		who     uint64
		wantErr abi.Errno
	}{
		{"own process", abi.IOPRIO_WHO_PROCESS, 0, 0},
		{"own group", abi.IOPRIO_WHO_PGRP, 0, 0},
		{"other pid is ESRCH", abi.IOPRIO_WHO_PROCESS, 4242, abi.ESRCH},
		{"bad which is EINVAL", 0, 0, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.call(IoprioGet, tc.which, tc.who)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
			if err == nil && got != uint64(host) {
				t.Fatalf("ioprio_get = %#x, host %#x", got, host)
			}
		})
	}
	var got uint64
	var err error
	onThrowawayThread(func() {
		const idleClass = 3 << 13
		if _, err = e.call(IoprioSet, abi.IOPRIO_WHO_PROCESS, 0, idleClass); err == nil {
			got, err = e.call(IoprioGet, abi.IOPRIO_WHO_PROCESS, 0)
		}
	})
	if err != nil || got != 3<<13 {
		t.Fatalf("after setting the idle class: %#x, %v", got, err)
	}
	if _, err := e.call(IoprioSet, abi.IOPRIO_WHO_PROCESS, 0, 7<<13); errnoOf(err) != abi.EINVAL {
		t.Fatalf("invalid class: %v, want EINVAL", err)
	}
}
