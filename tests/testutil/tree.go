package testutil

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Entry is what the comparison keeps of one file of a run directory: its
// type and permission bits, and the content of a regular file or the target
// of a symlink. Times, inode numbers and owners are left out on purpose:
// they legitimately differ between two runs.
type Entry struct {
	Mode    fs.FileMode
	Content []byte
	Link    string
}

// Tree maps slash-separated relative paths to entries.
type Tree map[string]Entry

// Snapshot records every file under dir.
func Snapshot(dir string) (Tree, error) {
	t := Tree{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		e := Entry{Mode: info.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case info.Mode().IsRegular():
			if e.Content, err = os.ReadFile(path); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		t[filepath.ToSlash(rel)] = e
		return nil
	})
	return t, err
}

// DiffTrees describes every difference between want (native) and got
// (elfuse); an empty result means the trees are the same.
func DiffTrees(want, got Tree) []string {
	var diffs []string
	for _, p := range sortedKeys(want) {
		w := want[p]
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing (native has %v)", p, w.Mode))
		case w.Mode != g.Mode:
			diffs = append(diffs, fmt.Sprintf("%s: mode %v, native %v", p, g.Mode, w.Mode))
		case w.Link != g.Link:
			diffs = append(diffs, fmt.Sprintf("%s: symlink to %q, native %q", p, g.Link, w.Link))
		case !bytes.Equal(w.Content, g.Content):
			diffs = append(diffs, fmt.Sprintf("%s: content differs (%d bytes, native %d bytes)", p, len(g.Content), len(w.Content)))
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: extra file (%v), not produced natively", p, got[p].Mode))
		}
	}
	return diffs
}

func sortedKeys(t Tree) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
