package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestDenyWriteAccessSeesEveryWriter(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	data := filepath.Join(dir, "data")
	for _, p := range []string{prog, data} {
		if err := os.WriteFile(p, []byte("\x7fELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(data, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(path string, want error) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := denyWriteAccess(f); !errors.Is(got, want) && got != want {
			t.Errorf("%s: denyWriteAccess = %v, want %v", filepath.Base(path), got, want)
		}
	}
	check(prog, nil)
	w, err := os.OpenFile(prog, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(prog, abi.ETXTBSY)
	r, err := os.Open(prog) // readers do not count
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Close()
	check(prog, nil)
	// A file without an execute bit is exec's EACCES, not ETXTBSY.
	w, err = os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	check(data, nil)
}
