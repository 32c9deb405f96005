package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareReportsEveryKindOfDifference(t *testing.T) {
	base := Outcome{
		Result: Result{Stdout: []byte("a\nb\n"), Stderr: []byte("warn: x\n"), Status: 0},
		Tree:   Tree{"f": {Mode: 0o644, Content: []byte("x")}, "l": {Mode: os.ModeSymlink | 0o777, Link: "f"}},
	}
	c := Case{CompareFiles: true, CompareStderr: true}
	tests := []struct {
		name   string
		edit   func(o *Outcome)
		expect string // substring of the report; "" means no difference
	}{
		{"identical runs agree", func(o *Outcome) {}, ""},
		{"extra stderr log lines are tolerated", func(o *Outcome) {
			o.Stderr = []byte("elfuse: log line\nwarn: x\n")
		}, ""},
		{"exit status differs", func(o *Outcome) { o.Status = 139 }, "exit status 139, native 0"},
		{"stdout differs", func(o *Outcome) { o.Stdout = []byte("a\nc\n") }, "first difference at line 2"},
		{"stdout truncated", func(o *Outcome) { o.Stdout = []byte("a\n") }, "stdout differs"},
		{"native stderr line missing", func(o *Outcome) { o.Stderr = nil }, "stderr lacks"},
		{"file content differs", func(o *Outcome) {
			o.Tree = Tree{"f": {Mode: 0o644, Content: []byte("y")}, "l": base.Tree["l"]}
		}, "f: content differs"},
		{"file mode differs", func(o *Outcome) {
			o.Tree = Tree{"f": {Mode: 0o600, Content: []byte("x")}, "l": base.Tree["l"]}
		}, "f: mode"},
		{"file missing", func(o *Outcome) { o.Tree = Tree{"l": base.Tree["l"]} }, "f: missing"},
		{"extra file", func(o *Outcome) {
			o.Tree = Tree{"f": base.Tree["f"], "l": base.Tree["l"], "core": {Mode: 0o600}}
		}, "core: extra file"},
		{"symlink target differs", func(o *Outcome) {
			o.Tree = Tree{"f": base.Tree["f"], "l": {Mode: os.ModeSymlink | 0o777, Link: "g"}}
		}, "l: symlink to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base
			got.Stdout = append([]byte{}, base.Stdout...)
			tt.edit(&got)
			d := strings.Join(Compare(c, base, got), "\n")
			if tt.expect == "" && d != "" {
				t.Fatalf("unexpected difference: %s", d)
			}
			if !strings.Contains(d, tt.expect) {
				t.Fatalf("report %q does not mention %q", d, tt.expect)
			}
		})
	}
}

func TestSnapshotSeesWhatPrepareMade(t *testing.T) {
	dir := t.TempDir()
	files := []File{
		{Path: "d", Dir: true, Mode: 0o700},
		{Path: "d/x", Content: "hello", Mode: 0o640},
		{Path: "l", Link: "d/x"},
	}
	if err := Prepare(dir, files); err != nil {
		t.Fatal(err)
	}
	tree, err := Snapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Tree{
		"d":   {Mode: os.ModeDir | 0o700},
		"d/x": {Mode: 0o640, Content: []byte("hello")},
		"l":   {Mode: os.ModeSymlink | 0o777, Link: "d/x"},
	}
	if d := DiffTrees(want, tree); len(d) > 0 {
		t.Fatalf("snapshot differs from prepared files: %v", d)
	}
	st, err := os.Stat(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(FixedTime) {
		t.Fatalf("directory time %v, want the fixed %v", st.ModTime(), FixedTime)
	}
}

func TestRunReportsSignalDeathAs128PlusN(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"exit code", "exit 7", 7},
		{"killed by SIGKILL", "kill -9 $$", 128 + 9},
		{"killed by SIGTERM", "kill -15 $$", 128 + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := RunNative(Cmd{Args: []string{"/bin/sh", "-c", tt.script}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want {
				t.Fatalf("status %d, want %d", res.Status, tt.want)
			}
		})
	}
}

func TestObservableRejectsSilentCases(t *testing.T) {
	silent := Outcome{}
	if err := observable(Case{Args: []string{"true"}}, silent, t.TempDir()); err == nil {
		t.Fatal("a case that prints nothing and exits 0 was accepted")
	}
	if err := observable(Case{}, Outcome{Result: Result{Status: 1}}, t.TempDir()); err != nil {
		t.Fatalf("a failing status is observable: %v", err)
	}
	changed := Outcome{Tree: Tree{"new": {Mode: 0o644}}}
	if err := observable(Case{CompareFiles: true}, changed, t.TempDir()); err != nil {
		t.Fatalf("a created file is observable: %v", err)
	}
}
