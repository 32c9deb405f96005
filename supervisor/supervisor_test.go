package supervisor

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExitCodeLikeAShell(t *testing.T) {
	tests := []struct {
		name   string
		status uint32
		want   int
	}{
		{"exit 0", 0, 0},
		{"exit 3", 3 << 8, 3},
		{"exit 255", 255 << 8, 255},
		{"killed by SIGKILL", 9, 137},
		{"SIGSEGV with core", 11 | 0x80, 139},
		{"killed by SIGINT", 2, 130},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode("prog", tc.status); got != tc.want {
				t.Fatalf("exitCode(%#x) = %d, want %d", tc.status, got, tc.want)
			}
		})
	}
}

func TestLookPathSearchesGuestPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	noexec := filepath.Join(dir, "data")
	if err := os.WriteFile(noexec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	if got, err := lookPath("tool", env); err != nil || got != exe {
		t.Fatalf("lookPath(tool) = %q, %v; want %q", got, err, exe)
	}
	if _, err := lookPath("data", env); err == nil {
		t.Fatal("lookPath found a file without execute permission")
	}
	if _, err := lookPath("missing", env); err == nil {
		t.Fatal("lookPath found a missing program")
	}
	if got, err := lookPath(noexec, env); err != nil || got != noexec {
		t.Fatalf("a path with a slash must be used as is (exec reports EACCES): %q, %v", got, err)
	}
	if _, err := lookPath(filepath.Join(dir, "nope"), env); err == nil {
		t.Fatal("missing path with a slash accepted")
	}
}
