package tests

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// elfHeader crafts a 64-byte ELF header (plus one program header when
// phnum is 1) for the given class and machine: enough for a loader to read
// and judge, never enough to run.
func elfHeader(class byte, machine uint16) []byte {
	b := make([]byte, 64+56)
	copy(b, "\x7fELF")
	b[4] = class // EI_CLASS
	b[5] = 1     // little endian
	b[6] = 1     // EV_CURRENT
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], 0x400078) // entry
	le.PutUint64(b[32:], 64)       // phoff
	le.PutUint16(b[52:], 64)       // ehsize
	le.PutUint16(b[54:], 56)       // phentsize
	le.PutUint16(b[56:], 1)        // phnum
	ph := b[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // R+X
	le.PutUint64(ph[16:], 0x400000)
	le.PutUint64(ph[24:], 0x400000)
	le.PutUint64(ph[32:], uint64(len(b)))
	le.PutUint64(ph[40:], uint64(len(b)))
	le.PutUint64(ph[48:], 0x1000)
	return b
}

const (
	emX8664   = 62
	emAArch64 = 183
	em386     = 3
)

// TestBadInputExitStatus checks what a shell user sees for programs elfuse
// cannot run: the status a shell would report and one line on stderr that
// names the file.
func TestBadInputExitStatus(t *testing.T) {
	hello := cc.Build(t, testutil.Compilers[0], "hello.c")
	helloBytes, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string // created in the run dir; "" for none
		content []byte
		mode    os.FileMode
		dir     bool
		status  int
	}{
		{name: "missing program", file: "", status: 127},
		{name: "text file without #!", file: "notes.txt", content: []byte("just some text\nnot a program\n"), mode: 0o755, status: 126},
		{name: "empty file", file: "empty", content: nil, mode: 0o755, status: 126},
		{name: "truncated ELF header", file: "trunc-header", content: helloBytes[:20], mode: 0o755, status: 126},
		{name: "ELF cut inside its segments", file: "trunc-body", content: helloBytes[:len(helloBytes)/3], mode: 0o755, status: 126},
		{name: "aarch64 ELF", file: "arm64", content: elfHeader(2, emAArch64), mode: 0o755, status: 126},
		{name: "32-bit x86 ELF", file: "i386", content: elfHeader(1, em386), mode: 0o755, status: 126},
		{name: "directory", file: "adir", dir: true, status: 126},
		{name: "not executable", file: "noexec", content: helloBytes, mode: 0o644, status: 126},
	}
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					dir := t.TempDir()
					name := tt.file
					if name == "" {
						name = "no-such-program"
					}
					path := filepath.Join(dir, name)
					switch {
					case tt.dir:
						if err := os.Mkdir(path, 0o755); err != nil {
							t.Fatal(err)
						}
					case tt.file != "":
						if err := os.WriteFile(path, tt.content, tt.mode); err != nil {
							t.Fatal(err)
						}
						if err := os.Chmod(path, tt.mode); err != nil {
							t.Fatal(err)
						}
					}
					res, err := testutil.RunElfuse(bin, b, nil, testutil.Cmd{Args: []string{path}, Dir: dir})
					if err != nil {
						t.Fatal(err)
					}
					if res.Status != tt.status {
						t.Errorf("exit status %d, want %d (%s)", res.Status, tt.status, res)
					}
					checkOneLineNaming(t, res.Stderr, name)
				})
			}
		})
	}
}

func checkOneLineNaming(t *testing.T, stderr []byte, what string) {
	t.Helper()
	s := strings.TrimRight(string(stderr), "\n")
	if s == "" {
		t.Errorf("nothing on stderr; want one line naming %q", what)
		return
	}
	if n := strings.Count(s, "\n") + 1; n != 1 {
		t.Errorf("stderr has %d lines, want one:\n%s", n, s)
	}
	if !strings.Contains(s, what) {
		t.Errorf("stderr %q does not name %q", s, what)
	}
}

// TestBadFlagExitsTwo: usage errors give status 2 and say what was wrong.
func TestBadFlagExitsTwo(t *testing.T) {
	bin := elfuse.Require(t)
	hello := cc.Build(t, testutil.Compilers[0], "hello.c")
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"unknown flag", []string{"--no-such-flag", "--", hello}, "no-such-flag"},
		{"timeout not a number", []string{"--timeout", "soon", "--", hello}, "timeout"},
		{"unknown backend", []string{"--backend", "qemu", "--", hello}, "qemu"},
		{"unknown log level", []string{"--log-level", "loud", "--", hello}, "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := testutil.RunRaw(append([]string{bin}, tt.args...), testutil.Cmd{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 2 {
				t.Errorf("exit status %d, want 2 (%s)", res.Status, res)
			}
			if len(res.Stdout) != 0 {
				t.Errorf("usage error wrote to stdout: %q", res.Stdout)
			}
			first, _, _ := strings.Cut(string(res.Stderr), "\n")
			if !strings.Contains(first, tt.says) {
				t.Errorf("first stderr line %q does not mention %q", first, tt.says)
			}
		})
	}
}

func TestHelpAndVersionExitZero(t *testing.T) {
	bin := elfuse.Require(t)
	tests := []struct {
		flag string
		says string
	}{
		{"--help", "backend"},
		{"--version", "elfuse"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			res, err := testutil.RunRaw([]string{bin, tt.flag}, testutil.Cmd{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 0 {
				t.Errorf("exit status %d, want 0 (%s)", res.Status, res)
			}
			if out := string(res.Stdout) + string(res.Stderr); !strings.Contains(out, tt.says) {
				t.Errorf("%s output does not mention %q: %q", tt.flag, tt.says, out)
			}
		})
	}
}

// TestBackendAutoRunsAProgram: the default backend choice (kvm, else
// ptrace) runs a program like native.
func TestBackendAutoRunsAProgram(t *testing.T) {
	runProgramWithBackend(t, "auto")
}

// TestKVMBackend runs a program on KVM explicitly; it needs /dev/kvm.
func TestKVMBackend(t *testing.T) {
	testutil.RequireKVM(t)
	runProgramWithBackend(t, "kvm")
}

func runProgramWithBackend(t *testing.T, backend string) {
	t.Helper()
	bin := elfuse.Require(t)
	hello := cc.Build(t, testutil.Compilers[0], "hello.c")
	c := testutil.Cmd{Args: []string{hello, "backend", backend, "x"}, Dir: t.TempDir()}
	want, err := testutil.RunNative(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.RunElfuse(bin, backend, nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != want.Status || string(got.Stdout) != string(want.Stdout) {
		t.Errorf("--backend %s: %s; native %s", backend, got, want)
	}
}

// TestKVMBackendUnavailableSaysSo: on a host without a usable /dev/kvm,
// asking for kvm fails with a message that says why instead of running.
func TestKVMBackendUnavailableSaysSo(t *testing.T) {
	if ok, _ := testutil.KVMAvailable(); ok {
		t.Skip("/dev/kvm is usable here; the unavailable path cannot be observed")
	}
	bin := elfuse.Require(t)
	hello := cc.Build(t, testutil.Compilers[0], "hello.c")
	res, err := testutil.RunElfuse(bin, "kvm", nil, testutil.Cmd{Args: []string{hello}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 125 || len(res.Stdout) != 0 {
		t.Errorf("--backend kvm without /dev/kvm: want status 125 (elfuse cannot run it) and no output, got %s", res)
	}
	if !strings.Contains(strings.ToLower(string(res.Stderr)), "kvm") {
		t.Errorf("stderr does not say kvm is unavailable: %q", res.Stderr)
	}
}

// TestProgramFoundThroughPATH: a program named without a slash is looked
// up in PATH, as a shell would.
func TestProgramFoundThroughPATH(t *testing.T) {
	requireBusybox(t)
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			res, err := testutil.RunElfuse(bin, b, nil, testutil.Cmd{Args: []string{"busybox", "echo", "found", "in", "PATH"}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 0 || string(res.Stdout) != "found in PATH\n" {
				t.Errorf("elfuse -- busybox echo ...: %s", res)
			}
		})
	}
}
