package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// execve and execveat.
//
// Linux splits exec at a point of no return. Before it, everything that can
// fail is checked and a failure returns -errno to an intact caller: the path
// is read and resolved, the program (and any "#!" interpreter chain and
// PT_INTERP interpreter) opened and validated, argv and envp copied in and
// measured against the stack limits. After it the old image is gone: the
// address space is torn down and rebuilt on the same Machine, close-on-exec
// descriptors are closed, caught signals revert to SIG_DFL, and the task
// restarts at the new entry point. A failure there (out of memory while
// loading) can only kill the process, with SIGSEGV as Linux does.

func init() {
	register(map[uint64]Syscall{
		abi.SYS_EXECVE: {Name: "execve", Fn: Execve, Support: Partial,
			Note: "single-threaded processes only; set-user/group-ID bits and file capabilities are ignored"},
		abi.SYS_EXECVEAT: {Name: "execveat", Fn: Execveat, Support: Partial,
			Note: "as execve; AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW supported"},
	})
}

// Argument limits, as Linux's fs/exec.c.
const (
	// maxArgStrings is MAX_ARG_STRINGS: the most argv or envp entries.
	maxArgStrings = 0x7fffffff
	// argMax is ARG_MAX (32 pages): the argument space every process gets
	// whatever its RLIMIT_STACK.
	argMax = 32 * abi.PageSize
	// stkLim is _STK_LIM, the default stack limit; arguments never take
	// more than three quarters of it.
	stkLim = 8 << 20
)

// Execve implements Linux syscall execve(2).
func Execve(t *Task, a *Args) (uint64, error) {
	return t.execveat(abi.AT_FDCWD, a.Addr(0), a.Addr(1), a.Addr(2), 0)
}

// Execveat implements Linux syscall execveat(2).
func Execveat(t *Task, a *Args) (uint64, error) {
	return t.execveat(a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), a.Int(4))
}

// execveat is the common core of execve and execveat. On success it returns
// ErrNoReturn with the task at the new image's entry point. Errors come in
// Linux's order: the path, then opening the program (ENOENT, EACCES...),
// then the argument vectors (EFAULT, E2BIG), then the format (ENOEXEC,
// interpreters).
func (t *Task) execveat(dirfd int32, pathAddr, argvAddr, envpAddr abi.Addr, flags int32) (uint64, error) {
	name, err := t.copyInPath(pathAddr)
	if err != nil {
		return 0, err
	}
	if name == "" && flags&abi.AT_EMPTY_PATH == 0 {
		return 0, abi.ENOENT
	}
	if flags&^(abi.AT_EMPTY_PATH|abi.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, abi.EINVAL
	}
	filename, fdPath := execFilename(dirfd, name)
	prog, _, err := openChecked(filename, func(string) (*os.File, error) {
		return t.openExecDenyWrite(dirfd, name, flags)
	})
	if err != nil {
		return 0, t.execFailed(filename, fmt.Errorf("%s: %w", filename, err))
	}

	limit := t.argLimit()
	argv, err := t.copyInStrings(argvAddr, limit)
	if err != nil {
		prog.Close()
		return 0, err
	}
	envp, err := t.copyInStrings(envpAddr, limit)
	if err != nil {
		prog.Close()
		return 0, err
	}
	if len(argv) == 0 {
		// Linux (since 5.18) never starts a program with argc == 0.
		argv = []string{""}
	}

	x, err := OpenExecutableWith(filename, t.execOpener(prog))
	if err != nil {
		return 0, t.execFailed(filename, err)
	}
	if err := t.checkExecutable(x, dirfd, fdPath, argv, envp, limit); err != nil {
		x.Close()
		return 0, t.execFailed(filename, err)
	}
	// The new image replaces every register, so the exit's must be whole
	// first. execve is no whole-registers exit (syscall_regs.go): the
	// execs that fail, most of those of a PATH search, need none.
	if err := hvf.LoadRegs(t.CPU); err != nil {
		x.Close()
		return 0, t.execFailed(filename, fmt.Errorf("%w: %v", abi.EIO, err))
	}
	// Linux names the task after the opened file only for AT_EMPTY_PATH.
	t.execImage(x, argv, envp, fdPath && name == "")
	return 0, ErrNoReturn
}

// execFailed logs an exec refused before the point of no return and
// returns err.
func (t *Task) execFailed(filename string, err error) error {
	if t.Log.IsDebug() {
		t.Log.Debug("execve failed before the point of no return", "path", filename, "error", err)
	}
	return err
}

// execFilename returns Linux's bprm->filename for a path relative to dirfd:
// the path itself with AT_FDCWD or when absolute, else "/dev/fd/N/path" (or
// "/dev/fd/N" for AT_EMPTY_PATH). fdPath says the name goes through a
// descriptor. It becomes AT_EXECFN and a script's argument.
func execFilename(dirfd int32, name string) (filename string, fdPath bool) {
	switch {
	case dirfd == abi.AT_FDCWD || path.IsAbs(name):
		return name, false
	case name == "":
		return "/dev/fd/" + strconv.Itoa(int(dirfd)), true
	default:
		return "/dev/fd/" + strconv.Itoa(int(dirfd)) + "/" + name, true
	}
}

// execOpener opens the files of an exec: first the program, already opened
// through the guest's dirfd and flags, then interpreters ("#!" and
// PT_INTERP), resolved like any guest path (resolvePathString, so a future
// sysroot applies) against the current directory with symlinks followed.
func (t *Task) execOpener(prog *os.File) Opener {
	return func(p string) (*os.File, error) {
		if prog != nil { // OpenExecutableWith opens the program first
			f := prog
			prog = nil
			return f, nil
		}
		return t.openExecDenyWrite(abi.AT_FDCWD, p, 0)
	}
}

// openExecFile opens one file for exec. FIFOs are opened without blocking
// and terminals without becoming the controlling one: both are then refused
// as not regular files (EACCES), as Linux's may_open refuses them.
func (t *Task) openExecFile(dirfd int32, name string, flags int32) (*os.File, error) {
	var pf pathFlags
	if flags&abi.AT_EMPTY_PATH != 0 {
		pf |= pathAllowEmpty
	}
	if flags&abi.AT_SYMLINK_NOFOLLOW != 0 {
		pf |= pathNoFollow
	}
	hp, err := t.resolvePathString(dirfd, name, pf)
	if err != nil {
		return nil, err
	}
	defer hp.release()
	oflags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	var fd int
	switch {
	case hp.path == "" && hp.dirfd == unix.AT_FDCWD:
		// AT_EMPTY_PATH on AT_FDCWD names the current directory.
		fd, err = openatRetry(unix.AT_FDCWD, ".", oflags)
	case hp.path == "":
		// AT_EMPTY_PATH: the descriptor itself, reopened for reading
		// (it may be an O_PATH descriptor).
		fd, err = openatRetry(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(hp.dirfd), oflags)
	default:
		if flags&abi.AT_SYMLINK_NOFOLLOW != 0 {
			oflags |= unix.O_NOFOLLOW
		}
		fd, err = openatRetry(hp.dirfd, hp.path, oflags)
	}
	if err != nil {
		return nil, err
	}
	// Reads of a regular file never block; Go's file must not see the
	// descriptor as non-blocking.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openatRetry is openat(2) retried on EINTR.
func openatRetry(dirfd int, p string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, p, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// checkExecutable runs the last checks before the point of no return:
// binfmt_script's refusal of a script reached through a close-on-exec
// descriptor (the interpreter could not open it) and the argument space of
// the final argv (scripts add their interpreter and path).
func (t *Task) checkExecutable(x *Executable, dirfd int32, fdPath bool, argv, envp []string, limit int) error {
	if len(x.scripts) > 0 && fdPath {
		if cloexec, err := t.Proc.FDs.GetCloexec(dirfd); err == nil && cloexec {
			return fmt.Errorf("%s: script reached through close-on-exec descriptor %d: %w", x.Path, dirfd, abi.ENOENT)
		}
	}
	return argsFit(x.Path, x.Argv(argv), envp, limit)
}

// argLimit is the argument space, Linux's bprm_stack_limits: a quarter of
// RLIMIT_STACK, at most three quarters of _STK_LIM, at least ARG_MAX. The
// initial stack is a fixed StackSize mapping here, so a quarter of it also
// bounds the space (the loader's own check).
func (t *Task) argLimit() int {
	limit := uint64(stkLim / 4 * 3)
	if cur := t.Proc.Rlimit(abi.RLIMIT_STACK).Cur; cur/4 < limit {
		limit = cur / 4
	}
	limit = max(limit, argMax)
	return int(min(limit, StackSize/4))
}

// argsFit checks the strings and their pointers against limit as Linux
// accounts them: each string (with its NUL) at most MAX_ARG_STRLEN, and the
// pointer array plus every string plus the file name and the stack's end
// marker within limit (E2BIG otherwise). It matches the loader's setupStack
// accounting, so a load after the point of no return never fails there.
func argsFit(execfn string, argv, envp []string, limit int) error {
	total := 8 + len(execfn) + 1
	for _, set := range [][]string{argv, envp} {
		for _, s := range set {
			if len(s)+1 > maxArgStrlen {
				return abi.E2BIG
			}
			total += len(s) + 1 + 8
			if total > limit {
				return abi.E2BIG
			}
		}
	}
	if total > limit {
		return abi.E2BIG
	}
	return nil
}

// copyInStrings reads a NULL-terminated guest array of string pointers (a
// NULL array is empty). A bad pointer gives EFAULT; a string over
// MAX_ARG_STRLEN or an array whose strings and pointers pass limit bytes
// gives E2BIG. Reading stops as soon as the limit is passed, so a hostile
// array costs at most limit bytes of host memory.
func (t *Task) copyInStrings(addr abi.Addr, limit int) ([]string, error) {
	if addr == 0 {
		return nil, nil
	}
	var out []string
	total := 0
	// One page for the pointers, one for the strings: they are apart.
	ptrs, strs := guestPage{t: t}, guestPage{t: t}
	for i := 0; ; i++ {
		if i >= maxArgStrings {
			return nil, abi.E2BIG
		}
		at, ok := addr.AddLength(uint64(i) * 8)
		if !ok {
			return nil, abi.EFAULT
		}
		p, ok := ptrs.pointer(at)
		if !ok {
			return nil, abi.EFAULT
		}
		if p == 0 {
			return out, nil
		}
		s, ok := strs.str(p)
		if !ok {
			var err error
			s, err = t.CopyInString(p, maxArgStrlen)
			switch {
			case errors.Is(err, abi.ENAMETOOLONG):
				return nil, abi.E2BIG
			case err != nil:
				return nil, abi.EFAULT
			}
		}
		total += len(s) + 1 + 8
		if total > limit {
			return nil, abi.E2BIG
		}
		out = append(out, s)
	}
}

// guestPage holds the last page of guest memory copyInStrings read. The
// argument and environment pointers, and their strings, lie together in a
// few pages (the caller's stack or heap): a copy per pointer and per
// string was a pread each, ~70 for a shell's environment at 2-3 µs on a
// PVM host (mm_cold.go); by page it is a few.
type guestPage struct {
	t   *Task
	at  abi.Addr // the page held, when n > 0
	n   int      // the readable bytes of it, from at
	buf [abi.PageSize]byte
}

// load holds the page of addr; false when addr is not readable.
func (g *guestPage) load(addr abi.Addr) bool {
	page := addr.RoundDown()
	if g.n == 0 || g.at != page {
		// A mapping covers whole pages: the readable prefix from
		// the page's start reaches addr if addr is readable.
		n, _ := g.t.CopyIn(page, g.buf[:])
		g.at, g.n = page, n
	}
	return int(addr-page) < g.n
}

// pointer reads the 8-byte pointer at addr.
func (g *guestPage) pointer(addr abi.Addr) (abi.Addr, bool) {
	off := int(addr - addr.RoundDown())
	if off+8 <= abi.PageSize {
		if !g.load(addr) || off+8 > g.n {
			return 0, false
		}
		return abi.Addr(binary.LittleEndian.Uint64(g.buf[off : off+8])), true
	}
	var pb [8]byte // across a page boundary
	if _, err := g.t.CopyIn(addr, pb[:]); err != nil {
		return 0, false
	}
	return abi.Addr(binary.LittleEndian.Uint64(pb[:])), true
}

// str returns the NUL-terminated string at addr when it ends within the
// page held; false: the caller reads it with CopyInString (which also
// tells the errors apart).
func (g *guestPage) str(addr abi.Addr) (string, bool) {
	if !g.load(addr) {
		return "", false
	}
	b := g.buf[addr-g.at : g.n]
	if i := bytes.IndexByte(b, 0); i >= 0 && i < maxArgStrlen {
		return string(b[:i]), true
	}
	return "", false
}
