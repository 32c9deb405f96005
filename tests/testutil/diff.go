package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FixedTime is the modification time given to every prepared file and
// directory, so listings that show times compare equal.
var FixedTime = time.Date(2021, time.March, 4, 5, 6, 7, 0, time.UTC)

// File is one entry a case prepares in its run directory before running.
type File struct {
	Path    string // relative, slash separated
	Content string
	Mode    fs.FileMode // permission bits; 0 means 0644 (0755 for dirs)
	Dir     bool
	Link    string // non-empty: a symlink to Link
}

// Case is one differential test: the same invocation natively and under
// every backend, in identically prepared directories.
type Case struct {
	Name string
	// Args is argv; Args[0] is the program. Relative paths in arguments
	// are relative to the run directory.
	Args []string
	// Files are created in the run directory before the run.
	Files []File
	// Stdin is piped to the program unless StdinFile names a file of the
	// run directory to give as descriptor 0.
	Stdin     string
	StdinFile string
	// CompareFiles compares the run directories afterwards (content and
	// mode of everything in them).
	CompareFiles bool
	// CompareStderr requires every line the native run wrote to stderr to
	// appear, in order, in elfuse's stderr (elfuse may add log lines).
	CompareStderr bool
	// Flags are extra elfuse flags placed before "--".
	Flags []string
	// Wrap, when set, is a command that runs elfuse (taskset -c 0, say):
	// the elfuse runs are Wrap... elfuse ...; the native ones are not.
	Wrap []string
	// Backends, when set, limits the elfuse runs to these of Backends().
	Backends []string
}

// Prepare creates c.Files under dir and gives everything the fixed time.
func Prepare(dir string, files []File) error {
	var dirs []string
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch {
		case f.Dir:
			mode := f.Mode
			if mode == 0 {
				mode = 0o755
			}
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
		case f.Link != "":
			if err := os.Symlink(f.Link, p); err != nil {
				return err
			}
			// The link's own times too (lutimes): stat -c %Y of a link
			// otherwise shows the second the fixture was made, which
			// differs between the native and the elfuse run.
			ts := []unix.Timespec{unix.NsecToTimespec(FixedTime.UnixNano()), unix.NsecToTimespec(FixedTime.UnixNano())}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			continue
		default:
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(p, []byte(f.Content), mode); err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil { // umask-proof
				return err
			}
		}
		if err := os.Chtimes(p, FixedTime, FixedTime); err != nil {
			return err
		}
	}
	// Directory times last, deepest first: creating entries changed them.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if err := os.Chtimes(d, FixedTime, FixedTime); err != nil {
			return err
		}
	}
	return nil
}

// Outcome is a finished run of a case: its result and, when the case
// compares files, its directory afterwards.
type Outcome struct {
	Result
	Tree Tree
}

// Execute prepares dir, runs c in it with runner and records the outcome.
func Execute(c Case, dir string, runner func(Cmd) (Result, error)) (Outcome, error) {
	if err := Prepare(dir, c.Files); err != nil {
		return Outcome{}, fmt.Errorf("prepare %s: %w", dir, err)
	}
	res, err := runner(Cmd{Args: c.Args, Dir: dir, Stdin: []byte(c.Stdin), StdinFile: c.StdinFile})
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Result: res}
	if c.CompareFiles {
		if o.Tree, err = Snapshot(dir); err != nil {
			return Outcome{}, err
		}
	}
	return o, nil
}

// Compare lists every way got differs from want under c's rules.
func Compare(c Case, want, got Outcome) []string {
	var d []string
	if want.Status != got.Status {
		d = append(d, fmt.Sprintf("exit status %d, native %d", got.Status, want.Status))
	}
	if !bytes.Equal(want.Stdout, got.Stdout) {
		d = append(d, fmt.Sprintf("stdout differs:\n%s", LineDiff(string(want.Stdout), string(got.Stdout))))
	}
	if c.CompareStderr {
		if missing := missingLines(want.Stderr, got.Stderr); len(missing) > 0 {
			d = append(d, fmt.Sprintf("stderr lacks native lines %q; got %q", missing, clip(got.Stderr)))
		}
	}
	if c.CompareFiles {
		for _, f := range DiffTrees(want.Tree, got.Tree) {
			d = append(d, "file "+f)
		}
	}
	return d
}

// missingLines returns the lines of want that do not appear, in order, as
// lines of got.
func missingLines(want, got []byte) []string {
	wl := splitLines(want)
	gl := splitLines(got)
	var missing []string
	j := 0
	for _, w := range wl {
		k := j
		for k < len(gl) && gl[k] != w {
			k++
		}
		if k == len(gl) {
			missing = append(missing, w)
			continue
		}
		j = k + 1
	}
	return missing
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// LineDiff shows the first differing line of two texts with a little
// context, which is what one needs to start looking.
func LineDiff(want, got string) string {
	wl := strings.Split(want, "\n")
	gl := strings.Split(got, "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  first difference at line %d (native %d lines, elfuse %d lines)\n", i+1, len(wl), len(gl))
	for k := i; k < i+3; k++ {
		if k < len(wl) {
			fmt.Fprintf(&b, "  native: %q\n", clip([]byte(wl[k])))
		}
		if k < len(gl) {
			fmt.Fprintf(&b, "  elfuse: %q\n", clip([]byte(gl[k])))
		}
	}
	return b.String()
}

// Elfuse is the binary under test, or why there is none.
type Elfuse struct {
	Path string
	Err  error
}

// Require skips when there is no elfuse package yet and fails when the build
// broke; it returns the binary's path.
func (e Elfuse) Require(t testing.TB) string {
	t.Helper()
	if errors.Is(e.Err, ErrNoElfuse) {
		t.Skipf("elfuse not built: %v", e.Err)
	}
	if e.Err != nil {
		t.Fatalf("elfuse not built: %v", e.Err)
	}
	return e.Path
}

// observable rejects a case whose native run shows nothing that a broken
// elfuse could get wrong: no output, exit status 0 and no file changed. Such
// a case would pass against a guest that does nothing.
func observable(c Case, native Outcome, dir string) error {
	if len(native.Stdout) > 0 || native.Status != 0 {
		return nil
	}
	if c.CompareFiles {
		if err := Prepare(dir, c.Files); err != nil {
			return err
		}
		before, err := Snapshot(dir)
		if err != nil {
			return err
		}
		if len(DiffTrees(before, native.Tree)) > 0 {
			return nil
		}
	}
	return fmt.Errorf("case %s proves nothing: natively it prints nothing, exits 0 and changes no compared file", Quote(c.Args))
}

// RunCase is the differential test of one case: two native runs (which must
// agree, or the case is not deterministic and proves nothing), then one run
// per backend as a subtest named after the backend.
func RunCase(t *testing.T, e Elfuse, c Case) {
	t.Helper()
	base := t.TempDir()
	want, err := Execute(c, filepath.Join(base, "native"), RunNative)
	if err != nil {
		t.Fatalf("native run: %v", err)
	}
	again, err := Execute(c, filepath.Join(base, "native2"), RunNative)
	if err != nil {
		t.Fatalf("second native run: %v", err)
	}
	if d := Compare(c, want, again); len(d) > 0 {
		t.Fatalf("case is not deterministic natively:\n%s", strings.Join(d, "\n"))
	}
	if err := observable(c, want, filepath.Join(base, "prepared")); err != nil {
		t.Fatal(err)
	}
	for _, b := range Backends() {
		if len(c.Backends) > 0 && !slices.Contains(c.Backends, b) {
			continue
		}
		t.Run(b, func(t *testing.T) {
			RequireBackend(t, b)
			bin := e.Require(t)
			got, err := Execute(c, filepath.Join(base, b), func(cmd Cmd) (Result, error) {
				return RunRaw(append(append([]string{}, c.Wrap...), ElfuseArgv(bin, b, c.Flags, cmd.Args)...), cmd)
			})
			if err != nil {
				t.Fatalf("elfuse run: %v", err)
			}
			if d := Compare(c, want, got); len(d) > 0 {
				t.Errorf("%s: elfuse differs from native:\n%s\nelfuse stderr:\n%s",
					Quote(c.Args), strings.Join(d, "\n"), clip(got.Stderr))
			}
		})
	}
}
