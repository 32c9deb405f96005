package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// processCalls matches the calls that make or replace a process in strace's
// output; `-f` prefixes each line with a pid.
var processCalls = regexp.MustCompile(`\b(clone3?|fork|vfork|execve|execveat)\(`)

// TestBusyboxCasesDoNotFork guards the suite itself: until elfuse has fork
// and exec (issue 3), a busybox case that forks or execs would test the
// wrong thing. Each case is run natively under strace, which must see exactly
// one execve (the one that starts busybox) and no clone/fork/vfork.
func TestBusyboxCasesDoNotFork(t *testing.T) {
	requireBusybox(t)
	checkNoFork(t, textCases(), fileCases(), shCases())
}

// TestBashCasesDoNotFork is the same guard for the bash-static cases.
func TestBashCasesDoNotFork(t *testing.T) {
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	checkNoFork(t, bashCases())
}

func checkNoFork(t *testing.T, groups ...[]testutil.Case) {
	t.Helper()
	straceBin, why := testutil.LookCommand("strace")
	if why != "" {
		t.Skip(why)
	}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.Name, func(t *testing.T) {
				log := filepath.Join(t.TempDir(), "strace.log")
				_, err := testutil.Execute(c, t.TempDir(), func(cmd testutil.Cmd) (testutil.Result, error) {
					cmd.Args = append([]string{straceBin, "-f", "-qq", "-o", log,
						"-e", "trace=clone,clone3,fork,vfork,execve,execveat"}, cmd.Args...)
					return testutil.RunNative(cmd)
				})
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(log)
				if err != nil {
					t.Fatal(err)
				}
				var calls []string
				for _, l := range strings.Split(string(b), "\n") {
					if processCalls.MatchString(l) {
						calls = append(calls, l)
					}
				}
				if len(calls) != 1 || !strings.Contains(calls[0], "execve(") {
					t.Fatalf("%s makes or replaces processes natively (want one execve):\n%s",
						testutil.Quote(c.Args), strings.Join(calls, "\n"))
				}
			})
		}
	}
}
