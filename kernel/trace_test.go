package kernel

import (
	"bytes"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// traceMem is guest memory for the tracer's tests: one readable region at
// traceBase; everything else faults.
type traceMem struct{ data []byte }

const traceBase = 0x10000

func (m *traceMem) CopyIn(addr abi.Addr, dst []byte) (int, error) {
	for i := range dst {
		a := uint64(addr) + uint64(i)
		if a < traceBase || a >= traceBase+uint64(len(m.data)) {
			return i, abi.EFAULT
		}
		dst[i] = m.data[a-traceBase]
	}
	return len(dst), nil
}

func (m *traceMem) CopyOut(addr abi.Addr, src []byte) (int, error) { return 0, abi.EFAULT }

func (m *traceMem) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	var out []byte
	for i := 0; i < maxLen; i++ {
		var b [1]byte
		if _, err := m.CopyIn(addr+abi.Addr(i), b[:]); err != nil {
			return "", err
		}
		if b[0] == 0 {
			return string(out), nil
		}
		out = append(out, b[0])
	}
	return "", abi.ENAMETOOLONG
}

func (m *traceMem) Slice(addr abi.Addr, n int, write bool) ([]byte, error) { return nil, abi.EFAULT }

// traceTask returns a task of pid 7 whose memory holds data at traceBase
// and whose trace goes to out.
func traceTask(data []byte, out *bytes.Buffer) *Task {
	k := &Kernel{Config: Config{Trace: NewTracer(out)}}
	return &Task{Proc: &Process{Kernel: k, Mem: &traceMem{data: data}}, Tid: 7}
}

func TestAppendQuotedEscapesLikeStrace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{"tab\there\n", `"tab\there\n"`},
		{"\f\r\v", `"\f\r\v"`},
		{`quote " back \ slash`, `"quote \" back \\ slash"`},
		{"\x00", `"\0"`},
		{"\x00" + "1", `"\0001"`}, // a digit follows: three octal digits
		{"\x01x", `"\1x"`},
		{"\x1b[0m", `"\33[0m"`},
		{"\xff", `"\377"`},
		{"\x7f", `"\177"`},
	} {
		if got := string(appendQuoted(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendQuoted(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAppendCutStopsAt32BytesWithDots(t *testing.T) {
	long := strings.Repeat("a", 40)
	if got, want := string(appendCut(nil, []byte(long), false)), `"`+strings.Repeat("a", 32)+`"...`; got != want {
		t.Errorf("cut = %s, want %s", got, want)
	}
	if got, want := string(appendCut(nil, []byte(long[:32]), false)), `"`+strings.Repeat("a", 32)+`"`; got != want {
		t.Errorf("exactly 32 bytes = %s, want %s", got, want)
	}
	if got, want := string(appendCut(nil, []byte("ab"), true)), `"ab"...`; got != want {
		t.Errorf("short but more = %s, want %s", got, want)
	}
}

func TestFlagSetsDecodeInStraceOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"open rdonly", appendOpenFlags(nil, 0), "O_RDONLY"},
		{"open creat", appendOpenFlags(nil, abi.O_WRONLY|abi.O_CREAT|abi.O_TRUNC|abi.O_CLOEXEC), "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"},
		{"open directory", appendOpenFlags(nil, abi.O_RDONLY|abi.O_NONBLOCK|abi.O_CLOEXEC|abi.O_DIRECTORY), "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"},
		{"open sync", appendOpenFlags(nil, abi.O_RDWR|abi.O_SYNC), "O_RDWR|O_SYNC"},
		{"open unknown bit", appendOpenFlags(nil, abi.O_RDONLY|1<<30), "O_RDONLY|0x40000000"},
		{"mode", appendMode(nil, 0o644), "0644"},
		{"mode zero", appendMode(nil, 0), "000"},
		{"mode small", appendMode(nil, 7), "007"},
		{"prot none", appendProt(nil, 0), "PROT_NONE"},
		{"prot rw", appendProt(nil, 3), "PROT_READ|PROT_WRITE"},
		{"map anon", appendMapFlags(nil, 0x22), "MAP_PRIVATE|MAP_ANONYMOUS"},
		{"map fixed denywrite", appendMapFlags(nil, 0x812), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE"},
		{"at flags", appendFlags(nil, abi.AT_SYMLINK_NOFOLLOW|abi.AT_EMPTY_PATH, atFlagNames), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"},
		{"at none", appendFlags(nil, 0, atFlagNames), "0"},
		{"clone fork", appendCloneFlags(nil, abi.CLONE_CHILD_CLEARTID|abi.CLONE_CHILD_SETTID|abi.SIGCHLD), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"},
		{"clone vfork", appendCloneFlags(nil, abi.CLONE_VM|abi.CLONE_VFORK|abi.SIGCHLD), "CLONE_VM|CLONE_VFORK|SIGCHLD"},
		{"clone no signal", appendCloneFlags(nil, abi.CLONE_VM), "CLONE_VM"},
		{"wait options", appendFlags(nil, abi.WNOHANG|abi.WUNTRACED, waitOptNames), "WNOHANG|WSTOPPED"},
		{"access", appendAccessMode(nil, 0), "F_OK"},
		{"access rx", appendAccessMode(nil, 5), "R_OK|X_OK"},
		{"signal", appendSignal(nil, abi.SIGCHLD), "SIGCHLD"},
		{"signal rt", appendSignal(nil, 34), "SIGRT_2"},
		{"signal bad", appendSignal(nil, 99), "99"},
		{"sigset", appendSigset(nil, uint64(abi.SigSetOf(abi.SIGINT, abi.SIGCHLD))), "[INT CHLD]"},
		{"sigset empty", appendSigset(nil, 0), "[]"},
		{"sigset most", appendSigset(nil, ^uint64(abi.SigSetOf(32, 33))), "~[RTMIN RT_1]"},
		{"wstatus exit", appendWstatus(nil, 3<<8), "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"},
		{"wstatus kill", appendWstatus(nil, abi.SIGKILL), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]"},
		{"wstatus core", appendWstatus(nil, abi.SIGSEGV|0x80), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"},
		{"wstatus stop", appendWstatus(nil, abi.SIGTSTP<<8|0x7f), "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGTSTP}]"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestErrnoNamesAndTexts(t *testing.T) {
	for _, tc := range []struct {
		e    abi.Errno
		want string
	}{
		{abi.ENOENT, "-1 ENOENT (No such file or directory)"},
		{abi.EAGAIN, "-1 EAGAIN (Resource temporarily unavailable)"},
		{abi.ENOTTY, "-1 ENOTTY (Inappropriate ioctl for device)"},
		{abi.EIO, "-1 EIO (Input/output error)"},
		{abi.ERESTARTSYS, "? ERESTARTSYS (To be restarted if SA_RESTART is set)"},
	} {
		if got := string(appendErrno(nil, uint64(tc.e))); got != tc.want {
			t.Errorf("errno %d: got %s, want %s", tc.e, got, tc.want)
		}
	}
}

func TestTraceLinesDecodeGuestMemory(t *testing.T) {
	// Guest memory: a path at +0, a long buffer at +0x40, a pipe pair at
	// +0x100, a wait status at +0x108.
	mem := make([]byte, 0x200)
	copy(mem, "/etc/passwd\x00")
	copy(mem[0x40:], strings.Repeat("x", 40)+"\x00")
	copy(mem[0x100:], []byte{3, 0, 0, 0, 4, 0, 0, 0, 0, 2, 0, 0})
	bad := uint64(0x9999000)
	for _, tc := range []struct {
		name string
		nr   uint64
		args Args
		ret  uint64
		err  error
		want string
	}{
		{"openat", abi.SYS_OPENAT, Args{uint64(0xffffff9c), traceBase, abi.O_RDONLY | abi.O_CLOEXEC}, 3, nil,
			`openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3`},
		{"openat creat", abi.SYS_OPENAT, Args{5, traceBase, abi.O_WRONLY | abi.O_CREAT, 0o600}, 0, abi.EACCES,
			`openat(5, "/etc/passwd", O_WRONLY|O_CREAT, 0600) = -1 EACCES (Permission denied)`},
		{"bad path", abi.SYS_OPENAT, Args{uint64(0xffffff9c), bad, 0}, 0, abi.EFAULT,
			`openat(AT_FDCWD, 0x9999000, O_RDONLY) = -1 EFAULT (Bad address)`},
		{"write cut", abi.SYS_WRITE, Args{1, traceBase + 0x40, 40}, 40, nil,
			`write(1, "` + strings.Repeat("x", 32) + `"..., 40) = 40`},
		{"read short", abi.SYS_READ, Args{0, traceBase + 0x40, 100}, 2, nil, `read(0, "xx", 100) = 2`},
		{"read failed", abi.SYS_READ, Args{0, traceBase + 0x40, 100}, 0, abi.EBADF,
			`read(0, 0x10040, 100) = -1 EBADF (Bad file descriptor)`},
		{"write bad buffer", abi.SYS_WRITE, Args{1, bad, 4}, 0, abi.EFAULT,
			`write(1, 0x9999000, 4) = -1 EFAULT (Bad address)`},
		{"pipe2", abi.SYS_PIPE2, Args{traceBase + 0x100, abi.O_CLOEXEC}, 0, nil, `pipe2([3, 4], O_CLOEXEC) = 0`},
		{"wait4", abi.SYS_WAIT4, Args{^uint64(0), traceBase + 0x108, 0, 0}, 9, nil,
			`wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 2}], 0, NULL) = 9`},
		{"wait4 nohang none", abi.SYS_WAIT4, Args{^uint64(0), traceBase + 0x108, abi.WNOHANG, 0}, 0, nil,
			`wait4(-1, 0x10108, WNOHANG, NULL) = 0`},
		{"mmap", abi.SYS_MMAP, Args{0, 8192, 3, 0x22, ^uint64(0), 0}, 0x7f0000000000, nil,
			`mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000`},
		{"fcntl getfd", abi.SYS_FCNTL, Args{3, abi.F_GETFD}, 1, nil, `fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)`},
		{"fcntl setfd", abi.SYS_FCNTL, Args{3, abi.F_SETFD, abi.FD_CLOEXEC}, 0, nil, `fcntl(3, F_SETFD, FD_CLOEXEC) = 0`},
		{"ioctl", abi.SYS_IOCTL, Args{1, 0x5401, traceBase}, 0, abi.ENOTTY,
			`ioctl(1, TCGETS, 0x10000) = -1 ENOTTY (Inappropriate ioctl for device)`},
		{"kill", abi.SYS_KILL, Args{3, abi.SIGTERM}, 0, nil, `kill(3, SIGTERM) = 0`},
		{"exit_group", abi.SYS_EXIT_GROUP, Args{1}, 0, nil, `exit_group(1) = ?`},
		{"getpid", abi.SYS_GETPID, Args{}, 7, nil, `getpid() = 7`},
		{"umask", abi.SYS_UMASK, Args{0o22}, 0o77, nil, `umask(022) = 077`},
		{"fcntl getfl", abi.SYS_FCNTL, Args{0, abi.F_GETFL}, abi.O_RDWR | abi.O_APPEND, nil, `fcntl(0, F_GETFL) = 0x402 (flags O_RDWR|O_APPEND)`},
		{"tiocgwinsz", abi.SYS_IOCTL, Args{0, 0x5413, traceBase + 0x100}, 0, nil, `ioctl(0, TIOCGWINSZ, {ws_row=3, ws_col=0, ws_xpixel=4, ws_ypixel=0}) = 0`},
		{"tiocgpgrp", abi.SYS_IOCTL, Args{0, 0x540f, traceBase + 0x100}, 0, nil, `ioctl(0, TIOCGPGRP, [3]) = 0`},
		{"generic", 999, Args{1, 2, 3, 4, 5, 6}, 0, abi.ENOSYS,
			`syscall_0x3e7(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)`},
	} {
		var out bytes.Buffer
		task := traceTask(mem, &out)
		pre := task.traceEnter(tc.nr, &tc.args)
		task.traceLeave(tc.nr, pre, &tc.args, tc.ret, tc.err)
		if got, want := out.String(), "[pid 7] "+tc.want+"\n"; got != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
}

func TestTraceExitLines(t *testing.T) {
	var out bytes.Buffer
	tr := NewTracer(&out)
	tr.TraceExit(1, 3<<8)
	tr.TraceExit(2, abi.SIGKILL)
	tr.TraceExit(3, abi.SIGSEGV|0x80)
	want := "[pid 1] +++ exited with 3 +++\n[pid 2] +++ killed by SIGKILL +++\n[pid 3] +++ killed by SIGSEGV (core dumped) +++\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestStatAndSiginfoDecode(t *testing.T) {
	mem := make([]byte, 0x100)
	// struct stat: st_mode at 24, st_rdev at 40, st_size at 48.
	mem[24], mem[25] = 0xa4, 0x81 // 0100644
	mem[48] = 42
	var out bytes.Buffer
	task := traceTask(mem, &out)
	if got, want := string(task.appendGuestStat(nil, traceBase)), "{st_mode=S_IFREG|0644, st_size=42, ...}"; got != want {
		t.Errorf("regular file stat = %s, want %s", got, want)
	}
	dev := make([]byte, 0x100)
	dev[24], dev[25] = 0xb6, 0x21 // 020666
	dev[40], dev[41] = 3, 1       // makedev(1, 3)
	task = traceTask(dev, &out)
	if got, want := string(task.appendGuestStat(nil, traceBase)), "{st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}"; got != want {
		t.Errorf("device stat = %s, want %s", got, want)
	}
	if got, want := string(task.appendGuestStat(nil, 0x5)), "0x5"; got != want {
		t.Errorf("unreadable stat = %s, want %s", got, want)
	}
	if got, want := string(appendStatMode(nil, 0o41777)), "S_IFDIR|S_ISVTX|0777"; got != want {
		t.Errorf("sticky dir mode = %s, want %s", got, want)
	}

	info := abi.Siginfo{Signo: abi.SIGCHLD, Code: abi.CLD_EXITED}
	info.SetPid(2)
	info.SetStatus(3)
	info.SetUtime(4)
	task.traceSignal(&info)
	info = abi.Siginfo{Signo: abi.SIGTERM, Code: 0}
	info.SetPid(1)
	task.traceSignal(&info)
	info = abi.Siginfo{Signo: abi.SIGSEGV, Code: 1}
	info.SetAddr(0x10)
	task.traceSignal(&info)
	want := "[pid 7] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=2, si_uid=0, si_status=3, si_utime=4 /* 0.04 s */, si_stime=0} ---\n" +
		"[pid 7] --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---\n" +
		"[pid 7] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---\n"
	if out.String() != want {
		t.Errorf("signal lines:\n got %q\nwant %q", out.String(), want)
	}
}
