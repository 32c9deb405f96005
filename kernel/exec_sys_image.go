package kernel

import (
	"path/filepath"
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel/abi"
)

// execImage is execve after its point of no return (Linux's begin_new_exec
// and the ELF loader's tail): it replaces the image of t's process with x,
// which it closes. It cannot fail back to the caller: if the new image
// cannot be built the process dies of SIGSEGV.
//
// Preconditions: x passed every check.
func (t *Task) execImage(x *Executable, argv, envp []string, commFromFile bool) {
	defer x.Close()
	p := t.Proc
	if p.threaded() {
		t.deThread() // thread_exec.go: t is the only thread after it
	}

	// mm_release: robust futexes held by the old image are released and
	// the thread forgets its clear_child_tid (the old memory is going).
	t.exitRobustList()
	t.RobustList = 0
	t.thread.robust.Store(0)
	t.ClearTID = 0
	// A vfork child's address space is its parent's until here. The new
	// image is built (about 1 ms) while the parent goes on.
	if p.Kernel != nil && p.Kernel.Host != nil {
		p.Kernel.Host.ReleaseVfork()
	}

	img, err := p.Exec(x, argv, envp)
	if err != nil {
		t.Log.Error("execve: the new image could not be built after the old one was released; killing the process with SIGSEGV",
			"path", x.Path, "error", err)
		// No core dump: there is no memory left to dump.
		p.exitGroup(uint32(abi.SIGSEGV))
		return
	}
	if p.Kernel != nil && p.Kernel.Host != nil {
		p.Kernel.Host.Execed(p.Exe, p.Argv)
	}

	// Linux names the task after the file name it was asked to run (the
	// script, not its interpreter), or after the file finally opened (the
	// interpreter of a script) when there was no name (AT_EMPTY_PATH).
	p.ResetForExec()
	if commFromFile {
		p.SetComm(filepath.Base(x.Resolved))
	} else {
		p.SetComm(filepath.Base(x.Path))
	}
	p.FDs.CloseOnExec()
	t.ResetSignalsForExec()

	t.ResetRegisters(img)
	t.resetFPState()
	t.OrigRAX = noSyscall
	if t.Log.IsDebug() {
		t.Log.Debug("execve: new image", "path", x.Path, "exe", p.Exe, "argv", p.Argv,
			"entry", hexAddr(uint64(img.Entry)), "sp", hexAddr(uint64(img.SP)), "interp", x.Interp())
	}
}

// resetFPState puts the FPU, SSE and AVX state in its initial state, as
// exec's fpu__clear_user_states does. The initial image depends only on
// the host (its XSAVE size and MXCSR mask): it is built from a read of
// the state once per guestproc and then set without a read, where the
// backend can at the next run (hvf/ptrace: two ptrace requests less per
// exec, the write not waited for).
func (t *Task) resetFPState() {
	if p := fpInitImage.Load(); p != nil {
		set := t.CPU.SetFPState
		if l, ok := t.CPU.(interface{ SetFPStateAtRun([]byte) error }); ok {
			set = l.SetFPStateAtRun
		}
		if err := set(*p); err == nil {
			return
		}
	}
	b, err := t.CPU.FPState()
	if err != nil {
		t.Log.Warn("execve: cannot read FP state to reset it", "error", err)
		return
	}
	img := newFPImage(b).initImage()
	if err := t.CPU.SetFPState(img); err != nil {
		t.Log.Warn("execve: cannot reset FP state", "error", err)
		return
	}
	fpInitImage.Store(&img)
}

// fpInitImage is the initial FP image of this host, once an exec built it.
var fpInitImage atomic.Pointer[[]byte]
