package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// traceSet is the syscalls compared between strace and elfuse --trace: the
// ones testdata/trace.c makes after start-up (glibc's and musl's start-up
// calls differ from run to run in addresses only, but are not the point).
const traceSet = "openat,open,read,write,close,lseek,dup2,fcntl,pipe2,pipe,clone,clone3,fork,vfork,wait4,exit_group,rt_sigaction,kill,rt_sigreturn"

// TestTraceMatchesStrace runs testdata/trace.c natively under
// `strace -f -q -e trace=SET -o FILE` and under
// `elfuse --trace=FILE`, and requires the same lines per process after
// this normalisation, and nothing else:
//   - line prefixes: strace's "PID  " and elfuse's "[pid N] " are removed;
//     lines are grouped per process, in order, processes named P0 (the
//     program) and P1, P2... in the order their creating clone/fork
//     returned them; the pid a clone/fork/vfork/wait4 returns, the pid
//     wait4 and kill are given and a signal's si_pid are replaced by those
//     names;
//   - `--- SIGCHLD` lines are dropped: when the child's exit reaches the
//     parent depends on timing, natively as under elfuse;
//   - strace's "<unfinished ...>" / "<... X resumed>" halves are joined;
//   - strace's padding of " = " to column 40 is collapsed to one space;
//   - hex addresses (0x...) become 0xADDR;
//   - elfuse's lines for syscalls outside SET are dropped (strace's -e).
//
// -q rather than strace's -qq keeps the "+++ exited with N +++" lines,
// which elfuse prints too and are compared.
func TestTraceMatchesStrace(t *testing.T) {
	bin := elfuse.Require(t)
	strace, why := testutil.LookCommand("strace")
	if why != "" {
		t.Skip(why)
	}
	if out, err := exec.Command(strace, "-o", "/dev/null", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (ptrace refused?): %v: %s", err, out)
	}
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			prog := cc.Build(t, comp, "trace.c")
			dir := t.TempDir()
			input := "hello\tworld\n\001\0022 \"quoted\" \\ and a longer tail line\n"
			if err := os.WriteFile(filepath.Join(dir, "trace-input.txt"), []byte(input), 0o644); err != nil {
				t.Fatal(err)
			}
			nativeOut := filepath.Join(dir, "native.trace")
			native := runTraced(t, dir, strace, "-f", "-q", "-e", "trace="+traceSet, "-o", nativeOut, prog)
			want := parseTrace(t, readFile(t, nativeOut), straceLine)
			if len(want) < 2 {
				t.Fatalf("strace saw %d processes, want 2:\n%s", len(want), readFile(t, nativeOut))
			}
			for _, backend := range testutil.Backends() {
				t.Run(backend, func(t *testing.T) {
					testutil.RequireBackend(t, backend)
					out := filepath.Join(dir, "elfuse-"+backend+".trace")
					got := runTraced(t, dir, bin, "--backend", backend, "--trace="+out, "--", prog)
					if got != native {
						t.Errorf("output: native %q, elfuse %q", native, got)
					}
					trace := readFile(t, out)
					have := parseTrace(t, filterSet(trace), elfuseLine)
					if len(have) != len(want) {
						t.Fatalf("elfuse traced %d processes, strace %d:\n%s", len(have), len(want), trace)
					}
					for name, lines := range want {
						w, g := strings.Join(lines, "\n"), strings.Join(have[name], "\n")
						if w != g {
							t.Errorf("process %s differs:\n%s\nwhole elfuse trace:\n%s", name, testutil.LineDiff(w, g), trace)
						}
					}
					// --trace alone: the same lines on stderr, stdout untouched.
					cmd := exec.Command(bin, "--backend", backend, "--trace", "--", prog)
					cmd.Dir, cmd.Env = dir, testutil.Env()
					var stdout, stderr strings.Builder
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					cmd.Run()
					if got := fmt.Sprintf("status %d, stdout %q", cmd.ProcessState.ExitCode(), stdout.String()); got != native {
						t.Errorf("--trace to stderr: native %s, elfuse %s", native, got)
					}
					onStderr := parseTrace(t, filterSet(stderr.String()), elfuseLine)
					for name, lines := range want {
						w, g := strings.Join(lines, "\n"), strings.Join(onStderr[name], "\n")
						if w != g {
							t.Errorf("--trace to stderr, process %s differs:\n%s", name, testutil.LineDiff(w, g))
						}
					}
				})
			}
		})
	}
}

// runTraced runs argv in dir and returns its stdout and exit status.
func runTraced(t *testing.T, dir string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, testutil.Env()
	out, err := cmd.Output()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", testutil.Quote(argv), err)
	}
	return fmt.Sprintf("status %d, stdout %q", status, out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	straceLine = regexp.MustCompile(`^(\d+) +(.*)$`)
	elfuseLine = regexp.MustCompile(`^\[pid (\d+)\] (.*)$`)
	hexAddr    = regexp.MustCompile(`0x[0-9a-f]+`)
	padding    = regexp.MustCompile(` +=( |$)`)
	retPid     = regexp.MustCompile(`^(clone|clone3|fork|vfork|wait4)\((.*) = (\d+)$`)
	pidArg     = regexp.MustCompile(`^(wait4|kill)\((\d+),`)
	siPid      = regexp.MustCompile(`si_pid=(\d+)`)
)

// filterSet keeps the lines of an elfuse trace for syscalls in traceSet,
// and the +++ and --- lines.
func filterSet(trace string) string {
	set := map[string]bool{}
	for _, n := range strings.Split(traceSet, ",") {
		set[n] = true
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(trace, "\n") {
		m := elfuseLine.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
		if m == nil {
			continue
		}
		name, _, _ := strings.Cut(m[2], "(")
		if set[name] || strings.HasPrefix(m[2], "+++ ") || strings.HasPrefix(m[2], "--- ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// parseTrace splits a trace into its processes' normalised lines (see
// TestTraceMatchesStrace), keyed P0, P1...
func parseTrace(t *testing.T, trace string, prefix *regexp.Regexp) map[string][]string {
	t.Helper()
	type line struct{ pid, text string }
	var lines []line
	pending := map[string]int{} // pid → index of its unfinished line
	for _, l := range strings.Split(strings.TrimSuffix(trace, "\n"), "\n") {
		m := prefix.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unparsable trace line %q in:\n%s", l, trace)
		}
		pid, text := m[1], m[2]
		if strings.HasPrefix(text, "--- SIGCHLD ") {
			continue
		}
		if i, ok := pending[pid]; ok {
			_, rest, found := strings.Cut(text, " resumed>")
			if !found {
				t.Fatalf("pid %s: %q does not resume %q", pid, text, lines[i].text)
			}
			lines[i].text += rest
			delete(pending, pid)
			continue
		}
		if s, ok := strings.CutSuffix(text, " <unfinished ...>"); ok {
			pending[pid] = len(lines)
			text = s
		}
		lines = append(lines, line{pid, text})
	}
	if len(lines) == 0 {
		t.Fatal("empty trace")
	}
	names := map[string]string{lines[0].pid: "P0"}
	for _, l := range lines {
		if m := retPid.FindStringSubmatch(padding.ReplaceAllString(l.text, " =$1")); m != nil && m[1] != "wait4" {
			if _, ok := names[m[3]]; !ok {
				names[m[3]] = "P" + strconv.Itoa(len(names))
			}
		}
	}
	out := map[string][]string{}
	for _, l := range lines {
		name, ok := names[l.pid]
		if !ok {
			t.Fatalf("pid %s appears without being created in:\n%s", l.pid, trace)
		}
		text := padding.ReplaceAllString(l.text, " =$1")
		if m := retPid.FindStringSubmatch(text); m != nil {
			if n, ok := names[m[3]]; ok {
				text = strings.TrimSuffix(text, m[3]) + n
			}
		}
		if m := pidArg.FindStringSubmatch(text); m != nil {
			if n, ok := names[m[2]]; ok {
				text = m[1] + "(" + n + text[len(m[0])-1:]
			}
		}
		if m := siPid.FindStringSubmatchIndex(text); m != nil {
			if n, ok := names[text[m[2]:m[3]]]; ok {
				text = text[:m[2]] + n + text[m[3]:]
			}
		}
		out[name] = append(out[name], hexAddr.ReplaceAllString(text, "0xADDR"))
	}
	return out
}
