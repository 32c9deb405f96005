package supervisor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestRuntimeDirIsPrivateAndRefusesASymlink(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, xdg string)
		wantErr bool
	}{
		{"created", func(*testing.T, string) {}, false},
		{"existing one opened to others is tightened", func(t *testing.T, xdg string) {
			if err := os.Mkdir(filepath.Join(xdg, "elfuse"), 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(xdg, "elfuse"), 0o777)
		}, false},
		{"symlink refused", func(t *testing.T, xdg string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(xdg, "elfuse")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"file refused", func(t *testing.T, xdg string) {
			if err := os.WriteFile(filepath.Join(xdg, "elfuse"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xdg := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", xdg)
			tc.prepare(t, xdg)
			dir, err := RuntimeDir()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("RuntimeDir = %q, want an error", dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(dir)
			if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 || dir != filepath.Join(xdg, "elfuse") {
				t.Errorf("RuntimeDir = %q (%v, %v), want a 0700 directory %s/elfuse", dir, st.Mode(), err, xdg)
			}
		})
	}
}

func TestControlSocketAnswersAndIsRemovedAtStop(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	s := newSupervisor(Config{MaxProcs: 4}, hclog.NewNullLogger())
	s.tree.NewInit("/bin/true", []string{"true"}, Leads{Group: true}) // no guestproc: "not started"
	stop := s.startControl()
	ids, err := Supervisors()
	if err != nil || len(ids) != 1 || ids[0] != os.Getpid() {
		t.Fatalf("Supervisors = %v, %v; want this process", ids, err)
	}
	procs, err := FetchDump(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0].Pid != 1 || procs[0].Error != "not started" || procs[0].Argv[0] != "true" {
		t.Errorf("dump = %+v, want pid 1 not started", procs)
	}
	stop()
	dir, _ := RuntimeDir()
	if _, err := os.Stat(controlPath(dir, os.Getpid())); !os.IsNotExist(err) {
		t.Errorf("socket left behind after stop: %v", err)
	}
	if ids, err := Supervisors(); err != nil || len(ids) != 0 {
		t.Errorf("Supervisors after stop = %v, %v; want none", ids, err)
	}
}
