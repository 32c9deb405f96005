package kernel

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// execTestHost records what exec and exit tell the process tree.
type execTestHost struct {
	execed     []string // exe then argv, per call
	execCalls  int
	exitStatus []uint32
	// calls logs ReleaseVfork ("release") and Execed ("execed") in order.
	calls []string
}

func (h *execTestHost) Pid() int32  { return 7 }
func (h *execTestHost) Ppid() int32 { return 1 }
func (h *execTestHost) Exit(status uint32) {
	h.exitStatus = append(h.exitStatus, status)
}
func (h *execTestHost) ReleaseVfork() { h.calls = append(h.calls, "release") }

func (h *execTestHost) Execed(exe string, argv []string) {
	h.calls = append(h.calls, "execed")
	h.execCalls++
	h.execed = append([]string{exe}, argv...)
}

// execEnv is a started static program whose memory has a scratch area for
// syscall arguments.
type execEnv struct {
	t       *Task
	fm      *fakeMachine
	host    *execTestHost
	scratch abi.Addr
	next    abi.Addr
}

func newExecEnv(tb *testing.T, prog string) *execEnv {
	tb.Helper()
	task, fm := startTest(tb, prog, []string{"first"}, []string{"OLD=1"})
	host := &execTestHost{}
	task.Proc.Kernel.Host = host
	at, err := task.Proc.MM.Mmap(0, 1<<20, abi.PROT_READ|abi.PROT_WRITE, abi.MAP_PRIVATE|abi.MAP_ANONYMOUS, -1, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return &execEnv{t: task, fm: fm, host: host, scratch: at, next: at}
}

// str places a C string in guest memory.
func (e *execEnv) str(tb *testing.T, s string) abi.Addr {
	tb.Helper()
	a := e.next
	if _, err := e.t.CopyOut(a, append([]byte(s), 0)); err != nil {
		tb.Fatal(err)
	}
	e.next += abi.Addr(len(s)+1+7) &^ 7
	return a
}

// vec places a NULL-terminated pointer array of the given strings.
func (e *execEnv) vec(tb *testing.T, ss ...string) abi.Addr {
	tb.Helper()
	ptrs := make([]abi.Addr, len(ss))
	for i, s := range ss {
		ptrs[i] = e.str(tb, s)
	}
	return e.ptrs(tb, append(ptrs, 0)...)
}

// ptrs places raw pointers.
func (e *execEnv) ptrs(tb *testing.T, ps ...abi.Addr) abi.Addr {
	tb.Helper()
	a := e.next
	b := make([]byte, 8*len(ps))
	for i, p := range ps {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(p))
	}
	if _, err := e.t.CopyOut(a, b); err != nil {
		tb.Fatal(err)
	}
	e.next += abi.Addr(len(b))
	return a
}

func writeExecFile(tb *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestExecveStartsTheNewImage(t *testing.T) {
	prog := buildC(t, "-static")
	pie := buildC(t, "-static-pie")
	e := newExecEnv(t, prog)
	old := e.t.Proc.MM
	e.t.CPU.SetFSBase(0x5000)
	e.t.RobustList, e.t.ClearTID = 0, 0x1234
	e.t.Proc.SetComm("renamed")

	a := Args{uint64(e.str(t, pie)), uint64(e.vec(t, "second", "x y")), uint64(e.vec(t, "NEW=2", "E="))}
	if _, err := Execve(e.t, &a); !errors.Is(err, ErrNoReturn) {
		t.Fatalf("execve: %v, want ErrNoReturn", err)
	}
	p := e.t.Proc
	if p.MM == old || p.Mem != Memory(p.MM) {
		t.Fatal("the process still has its old address space")
	}
	if strings.Join(p.Argv, "|") != "second|x y" || strings.Join(p.Envp, "|") != "NEW=2|E=" {
		t.Fatalf("argv %q envp %q", p.Argv, p.Envp)
	}
	real, _ := filepath.EvalSymlinks(pie)
	if p.Exe != real {
		t.Fatalf("Exe %q, want %q", p.Exe, real)
	}
	if e.host.execCalls != 1 || strings.Join(e.host.execed, "|") != real+"|second|x y" {
		t.Fatalf("Host.Execed got %q after %d calls", e.host.execed, e.host.execCalls)
	}
	// A vfork parent goes on before the new image is built, as Linux's
	// exec_mmap releases it.
	if got := strings.Join(e.host.calls, ","); got != "release,execed" {
		t.Fatalf("host calls %s, want release,execed", got)
	}
	if got := p.Comm(); got != filepath.Base(pie) {
		t.Fatalf("comm %q, want %q", got, filepath.Base(pie))
	}
	r := e.t.CPU.Regs()
	if r.RFLAGS != initialRFLAGS || r.RAX != 0 || e.t.CPU.FSBase() != 0 || e.t.ClearTID != 0 {
		t.Fatalf("registers not reset: rflags %#x rax %#x fs %#x clear_tid %#x", r.RFLAGS, r.RAX, e.t.CPU.FSBase(), e.t.ClearTID)
	}
	if argc := readWord(t, p.MM, abi.Addr(r.RSP)); argc != 2 {
		t.Fatalf("argc %d on the new stack", argc)
	}
	if s := readString(t, p.MM, abi.Addr(readWord(t, p.MM, abi.Addr(r.RSP)+16))); s != "x y" {
		t.Fatalf("argv[1] %q on the new stack", s)
	}
	// The program is a PIE: RIP lies in it, where no old mapping was.
	if _, ok := p.MM.Lookup(abi.Addr(r.RIP)); !ok || r.RIP < uint64(ETDynBase) {
		t.Fatalf("rip %#x is not in the new PIE image", r.RIP)
	}
	if _, ok := p.MM.Lookup(e.scratch); ok {
		t.Fatal("an old mapping survived exec")
	}
	checkMachine(t, p.MM, e.fm)
}

func TestExecveFailuresLeaveTheCallerIntact(t *testing.T) {
	prog := buildC(t, "-static")
	dir := t.TempDir()
	elf, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	noExec := writeExecFile(t, dir, "noexec", elf, 0o644)
	trunc := writeExecFile(t, dir, "trunc", elf[:40], 0o755)
	text := writeExecFile(t, dir, "text", []byte("echo hi\n"), 0o755)
	badInterp := writeExecFile(t, dir, "badinterp", []byte("#!/nonexistent/sh\n"), 0o755)
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(prog, link); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		setup func(e *execEnv) Args // execveat arguments
		want  abi.Errno
	}{
		{"missing file is ENOENT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, dir+"/missing")), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOENT},
		{"non-executable file is EACCES", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, noExec)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.EACCES},
		{"directory is EACCES", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, dir)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.EACCES},
		{"truncated ELF is ENOEXEC", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, trunc)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOEXEC},
		{"text without #! is ENOEXEC", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, text)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOEXEC},
		{"missing #! interpreter is ENOENT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, badInterp)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOENT},
		{"empty path is ENOENT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, "")), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOENT},
		{"bad path pointer is EFAULT", func(e *execEnv) Args {
			return Args{atFDCWD, 8, uint64(e.vec(t, "x")), 0, 0}
		}, abi.EFAULT},
		{"bad argv array is EFAULT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, prog)), 8, 0, 0}
		}, abi.EFAULT},
		{"bad argv string is EFAULT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, prog)), uint64(e.ptrs(t, e.str(t, "x"), 8, 0)), 0, 0}
		}, abi.EFAULT},
		{"unterminated envp is EFAULT", func(e *execEnv) Args {
			end := e.scratch + 1<<20 - 8
			e.t.CopyOut(end, []byte{1, 0, 1, 0, 0, 0, 0, 0})
			return Args{atFDCWD, uint64(e.str(t, prog)), 0, uint64(end), 0}
		}, abi.EFAULT},
		{"string of MAX_ARG_STRLEN is E2BIG", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, prog)), uint64(e.vec(t, "x", strings.Repeat("a", maxArgStrlen))), 0, 0}
		}, abi.E2BIG},
		{"arguments over the limit are E2BIG", func(e *execEnv) Args {
			s := e.str(t, strings.Repeat("b", 100000))
			ps := make([]abi.Addr, 30)
			for i := range ps {
				ps[i] = s
			}
			return Args{atFDCWD, uint64(e.str(t, prog)), uint64(e.ptrs(t, append(ps, 0)...)), 0, 0}
		}, abi.E2BIG},
		{"unknown execveat flag is EINVAL", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, prog)), uint64(e.vec(t, "x")), 0, 0x2}
		}, abi.EINVAL},
		{"bad dirfd is EBADF", func(e *execEnv) Args {
			return Args{999, uint64(e.str(t, "rel")), uint64(e.vec(t, "x")), 0, 0}
		}, abi.EBADF},
		{"symlink with AT_SYMLINK_NOFOLLOW is ELOOP", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, link)), uint64(e.vec(t, "x")), 0, abi.AT_SYMLINK_NOFOLLOW}
		}, abi.ELOOP},
		{"a missing file wins over a bad argv: ENOENT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, dir+"/missing")), 8, 0, 0}
		}, abi.ENOENT},
		{"a bad argv wins over a bad format: EFAULT", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, text)), 8, 0, 0}
		}, abi.EFAULT},
		{"FIFO is EACCES without blocking", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, fifo)), uint64(e.vec(t, "x")), 0, 0}
		}, abi.EACCES},
		{"AT_EMPTY_PATH on AT_FDCWD is the directory: EACCES", func(e *execEnv) Args {
			return Args{atFDCWD, uint64(e.str(t, "")), uint64(e.vec(t, "x")), 0, abi.AT_EMPTY_PATH}
		}, abi.EACCES},
		{"empty path without AT_EMPTY_PATH is ENOENT", func(e *execEnv) Args {
			return Args{0, uint64(e.str(t, "")), uint64(e.vec(t, "x")), 0, 0}
		}, abi.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExecEnv(t, prog)
			a := tt.setup(e)
			old, before := e.t.Proc.MM, *e.t.CPU.Regs()
			_, err := Execveat(e.t, &a)
			if !errors.Is(err, tt.want) {
				t.Fatalf("execveat: %v, want %v", err, tt.want)
			}
			if e.t.Proc.MM != old || *e.t.CPU.Regs() != before || e.host.execCalls != 0 || e.t.Proc.Argv[0] != "first" {
				t.Fatal("a failed exec changed the caller")
			}
			if len(e.host.calls) != 0 {
				// A vfork child whose exec failed goes on in its
				// parent's memory (posix_spawn reports the errno there).
				t.Fatalf("a failed exec told the host %v", e.host.calls)
			}
			if _, ok := old.Lookup(e.scratch); !ok {
				t.Fatal("a failed exec unmapped the caller's memory")
			}
		})
	}
}

func TestExecClosesCloexecDescriptorsAndResetsCaughtSignals(t *testing.T) {
	prog := buildC(t, "-static")
	e := newExecEnv(t, prog)
	p := e.t.Proc
	open := func(cloexec bool) int32 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		gfd, err := p.FDs.Install(fd, cloexec, 3)
		if err != nil {
			t.Fatal(err)
		}
		return gfd
	}
	closed, kept := open(true), open(false)

	p.sigHandlers()
	s := p.Signals
	s.mu.Lock()
	s.actions[abi.SIGUSR1-1] = abi.Sigaction{Handler: 0x401000, Flags: abi.SA_RESTART}
	s.actions[abi.SIGUSR2-1] = abi.Sigaction{Handler: abi.SIG_IGN}
	s.mu.Unlock()
	e.t.SigMask = 1 << (abi.SIGINT - 1)
	e.t.AltStack = abi.StackT{SP: 0x1000, Size: 8192}

	a := Args{uint64(e.str(t, prog)), uint64(e.vec(t, "again")), 0}
	if _, err := Execve(e.t, &a); !errors.Is(err, ErrNoReturn) {
		t.Fatalf("execve: %v", err)
	}
	if _, err := p.FDs.Get(closed); !errors.Is(err, abi.EBADF) {
		t.Errorf("close-on-exec descriptor %d still open (%v)", closed, err)
	}
	if _, err := p.FDs.Get(kept); err != nil {
		t.Errorf("descriptor %d without close-on-exec was closed: %v", kept, err)
	}
	if h := s.Action(abi.SIGUSR1); h.Handler != abi.SIG_DFL || h.Flags != 0 {
		t.Errorf("caught SIGUSR1 is %+v after exec, want SIG_DFL", h)
	}
	if h := s.Action(abi.SIGUSR2); h.Handler != abi.SIG_IGN {
		t.Errorf("ignored SIGUSR2 is %+v after exec, want SIG_IGN", h)
	}
	if e.t.SigMask != 1<<(abi.SIGINT-1) {
		t.Errorf("mask %#x after exec, want it kept", e.t.SigMask)
	}
	if e.t.AltStack != (abi.StackT{}) {
		t.Errorf("alternate stack %+v survived exec", e.t.AltStack)
	}
}

func TestExecveatRunsDescriptorsAndDirectories(t *testing.T) {
	prog := buildC(t, "-static")
	dir, base := filepath.Split(prog)
	tests := []struct {
		name    string
		open    string // host path to open as dirfd
		oflags  int
		path    string
		flags   int32
		execfn  string // want AT_EXECFN, %d is the dirfd
		wantErr abi.Errno
	}{
		{"AT_EMPTY_PATH runs the descriptor's file", prog, unix.O_PATH, "", abi.AT_EMPTY_PATH, "/dev/fd/%d", 0},
		{"a relative path resolves against dirfd", dir, unix.O_RDONLY | unix.O_DIRECTORY, base, 0, "/dev/fd/%d/" + base, 0},
		{"an absolute path ignores dirfd", dir, unix.O_RDONLY | unix.O_DIRECTORY, prog, 0, prog, 0},
		{"a relative path against a file is ENOTDIR", prog, unix.O_RDONLY, "x", 0, "", abi.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExecEnv(t, prog)
			hfd, err := unix.Open(tt.open, tt.oflags|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			dfd, err := e.t.Proc.FDs.Install(hfd, false, 3)
			if err != nil {
				t.Fatal(err)
			}
			a := Args{uint64(dfd), uint64(e.str(t, tt.path)), uint64(e.vec(t, "x")), 0, uint64(tt.flags)}
			_, err = Execveat(e.t, &a)
			if tt.wantErr != 0 {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("execveat: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if !errors.Is(err, ErrNoReturn) {
				t.Fatalf("execveat: %v", err)
			}
			want := tt.execfn
			if strings.Contains(want, "%d") {
				want = strings.Replace(want, "%d", strconv.Itoa(int(dfd)), 1)
			}
			var execfn abi.Addr
			for _, av := range e.t.Proc.Auxv {
				if av.Key == abi.AT_EXECFN {
					execfn = abi.Addr(av.Val)
				}
			}
			if got := readString(t, e.t.Proc.MM, execfn); got != want {
				t.Fatalf("AT_EXECFN %q, want %q", got, want)
			}
		})
	}
}

// atFDCWD is AT_FDCWD as a raw syscall argument.
var atFDCWD = func() uint64 { v := int64(abi.AT_FDCWD); return uint64(v) }()

func TestExecFailureAfterThePointOfNoReturnKillsWithSIGSEGV(t *testing.T) {
	prog := buildC(t, "-static")
	e := newExecEnv(t, prog)
	a := Args{uint64(e.str(t, prog)), uint64(e.vec(t, "x")), 0}
	// Loading the new image's first segment fails after the old image is
	// gone: nothing is left to return to.
	e.fm.failMap = true
	if _, err := Execve(e.t, &a); !errors.Is(err, ErrNoReturn) {
		t.Fatalf("execve: %v, want ErrNoReturn", err)
	}
	done, status := e.t.Proc.Exited()
	if !done || status != uint32(abi.SIGSEGV) {
		t.Fatalf("exited %v status %#x, want death by SIGSEGV", done, status)
	}
	if len(e.host.exitStatus) != 1 || e.host.exitStatus[0] != uint32(abi.SIGSEGV) || e.host.execCalls != 0 {
		t.Fatalf("host saw exits %v and %d execs", e.host.exitStatus, e.host.execCalls)
	}
	// Past the point of no return the parent was let go already.
	if got := strings.Join(e.host.calls, ","); got != "release" {
		t.Fatalf("host calls %s, want release", got)
	}
}

func TestExecArgumentSpaceFollowsRlimitStack(t *testing.T) {
	prog := buildC(t, "-static")
	tests := []struct {
		name  string
		stack uint64
		want  int
	}{
		{"8 MiB stack gives a quarter", 8 << 20, 2 << 20},
		{"1 MiB stack gives a quarter", 1 << 20, 256 << 10},
		{"tiny stack still gives ARG_MAX", 64 << 10, argMax},
		{"unlimited stack is bounded by the fixed stack mapping", abi.RLIM_INFINITY, StackSize / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExecEnv(t, prog)
			st := e.t.Proc.State()
			st.Rlimits[abi.RLIMIT_STACK] = abi.Rlimit{Cur: tt.stack, Max: abi.RLIM_INFINITY}
			e.t.Proc.SetState(st)
			if got := e.t.argLimit(); got != tt.want {
				t.Fatalf("argLimit %d, want %d", got, tt.want)
			}
			// Arguments filling the space exactly run; one byte more is E2BIG.
			for _, extra := range []int{1, 0} {
				a := Args{uint64(e.str(t, prog)), uint64(e.argsOfTotal(t, prog, tt.want+extra)), 0}
				_, err := Execve(e.t, &a)
				if extra == 1 && !errors.Is(err, abi.E2BIG) {
					t.Fatalf("one byte over the limit: %v, want E2BIG", err)
				}
				if extra == 0 && !errors.Is(err, ErrNoReturn) {
					t.Fatalf("exactly at the limit: %v, want success", err)
				}
				if done, status := e.t.Proc.Exited(); done {
					t.Fatalf("exec at the limit killed the process (status %#x): the loader is stricter than the check", status)
				}
			}
		})
	}
}

// argsOfTotal places an argv whose strings, pointers, file name and end
// marker take exactly total bytes as Linux counts them.
func (e *execEnv) argsOfTotal(tb *testing.T, execfn string, total int) abi.Addr {
	tb.Helper()
	const chunk = 4000 // string length; with NUL and pointer 4009 bytes
	left := total - (8 + len(execfn) + 1)
	s := e.str(tb, strings.Repeat("c", chunk))
	var ps []abi.Addr
	for left >= 2*(chunk+9) {
		ps = append(ps, s)
		left -= chunk + 9
	}
	// The rest in one or two shorter strings (each at least 9 bytes).
	if left > chunk+9 {
		ps = append(ps, e.str(tb, strings.Repeat("d", left/2-9)))
		left -= left / 2
	}
	ps = append(ps, e.str(tb, strings.Repeat("e", left-9)))
	return e.ptrs(tb, append(ps, 0)...)
}

func TestExecScriptRewritesArgvAndKeepsScriptName(t *testing.T) {
	prog := buildC(t, "-static")
	dir := t.TempDir()
	script := writeExecFile(t, dir, "run.sh", []byte("#!"+prog+"  -a  b \n"), 0o755)
	e := newExecEnv(t, prog)
	a := Args{uint64(e.str(t, script)), uint64(e.vec(t, "ignored", "1", "2")), 0}
	if _, err := Execve(e.t, &a); !errors.Is(err, ErrNoReturn) {
		t.Fatalf("execve: %v", err)
	}
	p := e.t.Proc
	if got, want := strings.Join(p.Argv, "|"), prog+"|-a  b|"+script+"|1|2"; got != want {
		t.Fatalf("argv %q, want %q", got, want)
	}
	if p.Comm() != "run.sh" {
		t.Fatalf("comm %q, want the script's name", p.Comm())
	}
	real, _ := filepath.EvalSymlinks(prog)
	if p.Exe != real {
		t.Fatalf("exe %q, want the interpreter %q", p.Exe, real)
	}
}

func TestExecScriptThroughCloexecDirfdIsENOENT(t *testing.T) {
	prog := buildC(t, "-static")
	dir := t.TempDir()
	writeExecFile(t, dir, "run.sh", []byte("#!"+prog+"\n"), 0o755)
	for _, cloexec := range []bool{true, false} {
		t.Run("cloexec="+strconv.FormatBool(cloexec), func(t *testing.T) {
			e := newExecEnv(t, prog)
			hfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			dfd, err := e.t.Proc.FDs.Install(hfd, cloexec, 3)
			if err != nil {
				t.Fatal(err)
			}
			a := Args{uint64(dfd), uint64(e.str(t, "run.sh")), uint64(e.vec(t, "x")), 0, 0}
			_, err = Execveat(e.t, &a)
			switch {
			case cloexec && !errors.Is(err, abi.ENOENT):
				t.Fatalf("execveat: %v, want ENOENT (the interpreter could not open the script)", err)
			case !cloexec && !errors.Is(err, ErrNoReturn):
				t.Fatalf("execveat: %v, want success", err)
			}
		})
	}
}
