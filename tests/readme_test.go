package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)\n```")

// TestCIRunsTheREADMECommand keeps .ci/run honest: the README's second
// set-up command (run the whole test suite) is exactly what CI runs, and
// the first builds and runs elfuse on a real program.
func TestCIRunsTheREADMECommand(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlock.FindAllStringSubmatch(string(readme), 2)
	if len(blocks) < 2 {
		t.Fatalf("README.md should open with two ```sh set-up commands, found %d", len(blocks))
	}
	build, test := blocks[0][1], blocks[1][1]
	for _, want := range []string{"go build", "./cmd/elfuse", "busybox"} {
		if !strings.Contains(build, want) {
			t.Errorf("first README command %q does not mention %q", build, want)
		}
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, l := range strings.Split(strings.TrimSpace(string(ci)), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			last = l
		}
	}
	if last != test {
		t.Errorf(".ci/run ends with %q, README's test command is %q", last, test)
	}
	if !strings.HasPrefix(string(ci), "#!/usr/bin/env bash") || !strings.Contains(string(ci), "set -euo pipefail") {
		t.Error(".ci/run must be a bash script with set -euo pipefail")
	}
}
