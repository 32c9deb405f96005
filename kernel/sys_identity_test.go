package kernel

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestIdsComeFromHostAndTask(t *testing.T) {
	e := newProcTestEnv(t)
	e.host.pid, e.host.ppid, e.t.Tid = 7, 3, 9
	r, eu, _ := unix.Getresuid()
	g, eg, _ := unix.Getresgid()
	tests := []struct {
		name string
		fn   SyscallFn
		want uint64
	}{
		{"getpid is the host's guest pid", Getpid, 7},
		{"getppid is the host's guest ppid", Getppid, 3},
		{"gettid is the task's tid", Gettid, 9},
		{"getuid is the host real uid", Getuid, uint64(r)},
		{"geteuid is the host effective uid", Geteuid, uint64(eu)},
		{"getgid is the host real gid", Getgid, uint64(g)},
		{"getegid is the host effective gid", Getegid, uint64(eg)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.call(tc.fn)
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestGetresuidWritesThreeIds(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: Creds{RUID: 1, EUID: 2, SUID: 3, RGID: 4, EGID: 5, SGID: 6}})
	p := testMemBase
	if _, err := e.call(Getresuid, uint64(p), uint64(p+4), uint64(p+8)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Getresgid, uint64(p+12), uint64(p+16), uint64(p+20)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{1, 2, 3, 4, 5, 6} {
		if got := binary.LittleEndian.Uint32(e.bytesAt(p+abi.Addr(4*i), 4)); got != want {
			t.Errorf("id %d = %d, want %d", i, got, want)
		}
	}
	if _, err := e.call(Getresuid, uint64(testBadAddr), uint64(p), uint64(p)); errnoOf(err) != abi.EFAULT {
		t.Errorf("bad pointer: %v, want EFAULT", err)
	}
}

func TestGetgroups(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: Creds{Groups: []uint32{10, 20, 30}}})
	tests := []struct {
		name    string
		size    uint64
		addr    abi.Addr
		want    uint64
		wantErr abi.Errno
	}{
		{"size 0 returns the count", 0, 0, 3, 0},
		{"too small a buffer is EINVAL", 2, testMemBase, 0, abi.EINVAL},
		{"negative size is EINVAL", uint64(0xffffffff), testMemBase, 0, abi.EINVAL},
		{"the list is written", 8, testMemBase, 3, 0},
		{"bad buffer is EFAULT", 3, testBadAddr, 0, abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.call(Getgroups, tc.size, uint64(tc.addr))
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if got := e.bytesAt(testMemBase, 12); got[0] != 10 || got[4] != 20 || got[8] != 30 {
		t.Errorf("groups written as % x", got)
	}
}

func TestSetIDRules(t *testing.T) {
	user := Creds{RUID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000, RGID: 100, EGID: 100, SGID: 100, FSGID: 100}
	setuidProg := Creds{RUID: 1000, EUID: 0, SUID: 0, FSUID: 0, RGID: 100, EGID: 100, SGID: 100, FSGID: 100, Caps: rootCaps}
	root := Creds{Caps: rootCaps}
	const none = uint64(0xffffffff)
	tests := []struct {
		name    string
		start   Creds
		fn      SyscallFn
		args    []uint64
		wantErr abi.Errno
		want    Creds
	}{
		{"user may setuid to own uid", user, Setuid, []uint64{1000}, 0, user},
		{"user may not setuid to another uid", user, Setuid, []uint64{0}, abi.EPERM, user},
		{"setuid(-1) is EINVAL", user, Setuid, []uint64{none}, abi.EINVAL, user},
		{"root setuid sets all four", root, Setuid, []uint64{5}, 0,
			Creds{RUID: 5, EUID: 5, SUID: 5, FSUID: 5}},
		{"set-uid program drops to the real uid for good", setuidProg, Setuid, []uint64{1000}, 0,
			Creds{RUID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000, RGID: 100, EGID: 100, SGID: 100, FSGID: 100}},
		{"user setreuid swaps nothing it does not own", user, Setreuid, []uint64{0, none}, abi.EPERM, user},
		{"setreuid(-1, euid) keeps saved when euid == ruid", setuidProg, Setreuid, []uint64{none, 1000}, 0,
			Creds{RUID: 1000, EUID: 1000, SUID: 0, FSUID: 1000, RGID: 100, EGID: 100, SGID: 100, FSGID: 100}},
		{"setreuid with a ruid sets saved to the new euid", setuidProg, Setreuid, []uint64{0, 1000}, 0,
			Creds{RUID: 0, EUID: 1000, SUID: 1000, FSUID: 1000, RGID: 100, EGID: 100, SGID: 100, FSGID: 100}},
		{"user setresuid to own ids", user, Setresuid, []uint64{none, 1000, none}, 0, user},
		{"user setresuid to a foreign id is EPERM", user, Setresuid, []uint64{none, 1, none}, abi.EPERM, user},
		{"root setresuid sets each", root, Setresuid, []uint64{1, 2, 3}, 0,
			Creds{RUID: 1, EUID: 2, SUID: 3, FSUID: 2}},
		{"user setgid to a foreign gid is EPERM", user, Setgid, []uint64{0}, abi.EPERM, user},
		{"root setresgid sets each", root, Setresgid, []uint64{7, 8, 9}, 0,
			Creds{RGID: 7, EGID: 8, SGID: 9, FSGID: 8}},
		{"user setregid to own gid", user, Setregid, []uint64{100, 100}, 0, user},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.t.Proc.SetState(ProcState{Creds: tc.start})
			_, err := e.call(tc.fn, tc.args...)
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("err = %v, want errno %d", err, tc.wantErr)
			}
			got := e.t.Proc.Creds()
			got.Groups = nil
			if got.RUID != tc.want.RUID || got.EUID != tc.want.EUID || got.SUID != tc.want.SUID ||
				got.FSUID != tc.want.FSUID || got.RGID != tc.want.RGID || got.EGID != tc.want.EGID ||
				got.SGID != tc.want.SGID || got.FSGID != tc.want.FSGID {
				t.Fatalf("creds = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSetfsuidReturnsOldValue(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: Creds{RUID: 1000, EUID: 1000, SUID: 1001, FSUID: 1000}})
	if old, _ := e.call(Setfsuid, 1001); old != 1000 {
		t.Fatalf("setfsuid(1001) = %d, want old 1000", old)
	}
	if old, _ := e.call(Setfsuid, 0); old != 1001 {
		t.Fatalf("setfsuid(0) = %d, want old 1001", old)
	}
	if fs := e.t.Proc.Creds().FSUID; fs != 1001 {
		t.Fatalf("unprivileged setfsuid(0) changed fsuid to %d", fs)
	}
	if old, _ := e.call(Setfsgid, 0xffffffff); old != 0 {
		t.Fatalf("setfsgid(-1) query = %d, want 0", old)
	}
}

func TestSetgroups(t *testing.T) {
	e := newProcTestEnv(t)
	binary.LittleEndian.PutUint32(e.bytesAt(testMemBase, 4), 30)
	binary.LittleEndian.PutUint32(e.bytesAt(testMemBase+4, 4), 10)
	e.t.Proc.SetState(ProcState{Creds: Creds{RUID: 1000, EUID: 1000}})
	if _, err := e.call(Setgroups, 2, uint64(testMemBase)); errnoOf(err) != abi.EPERM {
		t.Fatalf("unprivileged setgroups: %v, want EPERM", err)
	}
	e.t.Proc.SetState(ProcState{Creds: Creds{Caps: rootCaps}})
	if _, err := e.call(Setgroups, 70000, uint64(testMemBase)); errnoOf(err) != abi.EINVAL {
		t.Fatalf("setgroups above NGROUPS_MAX: %v, want EINVAL", err)
	}
	if _, err := e.call(Setgroups, 2, uint64(testMemBase)); err != nil {
		t.Fatal(err)
	}
	if got := e.t.Proc.Creds().Groups; !slices.Equal(got, []uint32{10, 30}) {
		t.Fatalf("groups = %v, want sorted [10 30]", got)
	}
	binary.LittleEndian.PutUint32(e.bytesAt(testMemBase+8, 4), 0xffffffff)
	if _, err := e.call(Setgroups, 3, uint64(testMemBase)); errnoOf(err) != abi.EINVAL {
		t.Fatalf("setgroups with gid -1: %v, want EINVAL", err)
	}
}

func TestProcessGroupsSingleProcess(t *testing.T) {
	e := newProcTestEnv(t)
	e.host.pid = 5
	tests := []struct {
		name    string
		fn      SyscallFn
		args    []uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"getpgrp is the pid", Getpgrp, nil, 5, 0},
		{"getpgid(0) is the pid", Getpgid, []uint64{0}, 5, 0},
		{"getpgid(own pid)", Getpgid, []uint64{5}, 5, 0},
		{"getpgid(other) is ESRCH", Getpgid, []uint64{6}, 0, abi.ESRCH},
		{"getsid(0) is the pid", Getsid, []uint64{0}, 5, 0},
		{"getsid(other) is ESRCH", Getsid, []uint64{99}, 0, abi.ESRCH},
		{"setsid by a group leader is EPERM", Setsid, nil, 0, abi.EPERM},
		{"setpgid by a session leader is EPERM", Setpgid, []uint64{0, 0}, 0, abi.EPERM},
		{"setpgid of another pid is ESRCH", Setpgid, []uint64{6, 0}, 0, abi.ESRCH},
		{"setpgid to a negative group is EINVAL", Setpgid, []uint64{0, uint64(0xffffffff)}, 0, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.call(tc.fn, tc.args...)
			if errnoOf(err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %d, %v; want %d, errno %d", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// sessionTestHost is a Host that also owns groups and sessions.
type sessionTestHost struct {
	procTestHost
	setsidCalls int
}

func (h *sessionTestHost) Getpgid(pid int32) (int32, error) { return 40 + pid, nil }
func (h *sessionTestHost) Getsid(pid int32) (int32, error)  { return 50 + pid, nil }
func (h *sessionTestHost) Setpgid(pid, pgid int32) error    { return abi.EACCES }
func (h *sessionTestHost) Setsid() (int32, error)           { h.setsidCalls++; return 77, nil }

func TestProcessGroupsDelegateToSessionHost(t *testing.T) {
	e := newProcTestEnv(t)
	h := &sessionTestHost{procTestHost: procTestHost{pid: 1}}
	e.t.Proc.Kernel.Host = h
	if got, _ := e.call(Getpgid, 2); got != 42 {
		t.Errorf("getpgid(2) = %d, want the host's 42", got)
	}
	if got, _ := e.call(Getsid, 3); got != 53 {
		t.Errorf("getsid(3) = %d, want the host's 53", got)
	}
	if _, err := e.call(Setpgid, 2, 2); errnoOf(err) != abi.EACCES {
		t.Errorf("setpgid: %v, want the host's EACCES", err)
	}
	if got, _ := e.call(Setsid); got != 77 || h.setsidCalls != 1 {
		t.Errorf("setsid = %d (calls %d), want the host's 77", got, h.setsidCalls)
	}
}
