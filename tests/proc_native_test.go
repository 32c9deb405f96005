package tests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// TestProcCasesAreSoundNatively guards the issue-3 suite while it is held
// back by tests/.processes-pending: every case must run natively, give the
// same result twice (or it proves nothing) and show something a broken
// elfuse could get wrong. Once the marker is gone testutil.RunCase makes
// these checks itself before each elfuse run, so this test steps aside.
func TestProcCasesAreSoundNatively(t *testing.T) {
	if _, err := os.Stat(processesPending); errors.Is(err, fs.ErrNotExist) {
		t.Skip("the process suite is enabled: RunCase checks every case natively")
	}
	requireBusybox(t)
	var cases []testutil.Case
	bbCases, bashCases := procShellCases(t)
	cases = append(cases, bbCases...)
	if _, why := testutil.LookCommand(bashStatic); why == "" {
		cases = append(cases, bashCases...)
	}
	for _, c := range cases {
		t.Run("sh/"+filepath.Base(c.Args[0])+"/"+c.Name, func(t *testing.T) { checkNative(t, c) })
	}
	for _, pc := range procProgramCases() {
		for _, comp := range testutil.Compilers {
			t.Run(pc.name+"/"+comp.Name, func(t *testing.T) {
				bin := cc.Build(t, comp, pc.src)
				checkNative(t, testutil.Case{Args: append([]string{bin}, pc.args...), Files: pc.files, CompareFiles: pc.compareFiles})
			})
		}
	}
}

// checkNative runs c natively twice and fails if the runs differ or if
// the case shows nothing (no output, status 0), reports a FAIL line or
// ran into its watchdog.
func checkNative(t *testing.T, c testutil.Case) {
	t.Helper()
	base := t.TempDir()
	want, err := testutil.Execute(c, filepath.Join(base, "native"), testutil.RunNative)
	if err != nil {
		t.Fatal(err)
	}
	again, err := testutil.Execute(c, filepath.Join(base, "native2"), testutil.RunNative)
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.Compare(c, want, again); len(d) > 0 {
		t.Fatalf("%s is not deterministic natively:\n%s", testutil.Quote(c.Args), strings.Join(d, "\n"))
	}
	if len(want.Stdout) == 0 && want.Status == 0 {
		t.Fatalf("%s proves nothing: no output and status 0", testutil.Quote(c.Args))
	}
	if strings.Contains(string(want.Stdout), "FAIL line") || strings.Contains(string(want.Stdout), "WATCHDOG") {
		t.Fatalf("%s fails natively:\n%s", testutil.Quote(c.Args), want.Stdout)
	}
}
