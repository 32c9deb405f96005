package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Cmd is one program invocation: the same Cmd is run natively and under
// elfuse.
type Cmd struct {
	// Args is argv; Args[0] is the program's path (absolute, or relative to
	// Dir).
	Args []string
	// Dir is the working directory.
	Dir string
	// Env is the environment; nil means Env().
	Env []string
	// Stdin is fed through a pipe when StdinFile is empty.
	Stdin []byte
	// StdinFile, relative to Dir, is opened and given as the real
	// descriptor 0 (so seeks and reads see a regular file).
	StdinFile string
}

// Result is what a run produced.
type Result struct {
	Stdout, Stderr []byte
	// Status is the exit status as a shell reports it: the exit code, or
	// 128+N for a death by signal N.
	Status int
}

func (r Result) String() string {
	return fmt.Sprintf("status %d, stdout %q, stderr %q", r.Status, clip(r.Stdout), clip(r.Stderr))
}

func clip(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("...(%d more bytes)", len(b)-max)
	}
	return string(b)
}

// RunNative runs c directly on the host.
func RunNative(c Cmd) (Result, error) {
	return run(c.Args, c)
}

// RunElfuse runs c under the elfuse binary with the given backend and extra
// flags: elfuse --backend B FLAGS... -- ARGS...
func RunElfuse(elfuse, backend string, flags []string, c Cmd) (Result, error) {
	return run(ElfuseArgv(elfuse, backend, flags, c.Args), c)
}

// ElfuseArgv is the argv that runs args under elfuse: elfuse --backend B
// FLAGS... -- ARGS...
func ElfuseArgv(elfuse, backend string, flags, args []string) []string {
	argv := []string{elfuse, "--backend", backend}
	argv = append(argv, flags...)
	argv = append(argv, "--")
	return append(argv, args...)
}

// RunRaw runs an arbitrary argv (e.g. elfuse with bad flags) with c's
// directory, environment and stdin.
func RunRaw(argv []string, c Cmd) (Result, error) {
	return run(argv, c)
}

func run(argv []string, c Cmd) (Result, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	// Each run leads a session of its own, as a job started with setsid:
	// the session the tests run in (a terminal's, or a CI daemon's
	// session 0) must not leak into what native and elfuse report.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Env == nil {
		cmd.Env = Env()
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if c.StdinFile != "" {
		f, err := os.Open(filepath.Join(c.Dir, c.StdinFile))
		if err != nil {
			return Result{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	} else {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	// A process that outlives the one we started must not keep the
	// output pipes (and so the test) open forever.
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return res, fmt.Errorf("run %s: %w", Quote(argv), err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		res.Status = 128 + int(ws.Signal())
	default:
		res.Status = ee.ExitCode()
	}
	return res, nil
}
