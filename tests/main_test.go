// Package tests is the end-to-end, differential suite of elfuse: every case
// runs natively and under elfuse (once per available backend, as subtests
// named after the backend) in identically prepared directories with the same
// environment, and the runs must agree on stdout, exit status and, where a
// case says so, the files they left behind.
package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

var (
	// elfuse is the binary under test, built once per run by TestMain.
	elfuse testutil.Elfuse
	// cc builds tests/testdata/*.c once per compiler per run.
	cc testutil.Builder
)

func TestMain(m *testing.M) {
	os.Exit(mainWithCleanup(m))
}

func mainWithCleanup(m *testing.M) int {
	dir, err := os.MkdirTemp("", "elfuse-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := testutil.NoCoreDumps(); err != nil {
		fmt.Fprintln(os.Stderr, "tests: setrlimit(RLIMIT_CORE):", err)
		return 1
	}
	elfuse.Path, elfuse.Err = testutil.BuildElfuse(dir)
	cc.Dir = dir
	return m.Run()
}
