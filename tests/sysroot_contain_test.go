package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// escapeLayout builds a root for testdata/sysroot_escape.c next to a secret
// file outside it, plus the host directories the binds bring in.
type escapeLayout struct {
	root, secret, bind, ro string
}

func newEscapeLayout(t *testing.T, prog string) escapeLayout {
	t.Helper()
	top := t.TempDir()
	l := escapeLayout{
		root:   filepath.Join(top, "root"),
		secret: filepath.Join(top, "outside", "secret"),
		bind:   filepath.Join(top, "bind"),
		ro:     filepath.Join(top, "ro"),
	}
	files := []testutil.File{
		{Path: "outside/secret", Content: "SECRET\n"},
		{Path: "root/inside", Content: "TOP\n"},
		{Path: "root/etc/inside", Content: "INSIDE\n"},
		{Path: "root/abs", Link: l.secret},
		{Path: "root/rel", Link: "../../../../../../../../../.." + l.secret},
		{Path: "root/hop", Link: filepath.Dir(l.secret)},
		{Path: "root/magic", Link: "/hostproc/self/root" + l.secret},
		{Path: "root/mnt/bind", Dir: true},
		{Path: "root/mnt/ro", Dir: true},
		{Path: "root/hostproc", Dir: true},
		{Path: "bind/file", Content: "BINDOK\n"},
		{Path: "bind/abs", Link: l.secret},
		{Path: "bind/toroot", Link: "/inside"},
		{Path: "root/tobind", Link: "/mnt/bind"},
		{Path: "ro/file", Content: "ROOK\n"},
	}
	if err := testutil.Prepare(top, files); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.root, "escape"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l escapeLayout) flags() []string {
	return []string{"--sysroot", l.root,
		"--bind", l.bind + ":/mnt/bind",
		"--bind", l.ro + ":/mnt/ro:ro",
		"--bind", "/proc:/hostproc"}
}

// Linux errno values the routes end in.
const (
	eNOENT = "errno 2"
	eROFS  = "errno 30"
	eLOOP  = "errno 40"
	// anyErrno accepts any failure.
	anyErrno = "errno *"
)

// TestSysrootKeepsHostFilesOutOfReach runs sysroot_escape.c under
// --sysroot: every route to a host file outside the root (.., absolute and
// relative symlinks, /proc magic links, dirfds, hard links, renames, new
// symlinks) fails, routes inside the root and through binds work, and
// read-only binds refuse writes.
func TestSysrootKeepsHostFilesOutOfReach(t *testing.T) {
	bin := elfuse.Require(t)
	prog := cc.Build(t, testutil.Compilers[0], "sysroot_escape.c")
	want := map[string]string{
		"absolute":             eNOENT,
		"dotdot":               eNOENT,
		"symlink_abs":          eNOENT,
		"symlink_rel":          eNOENT,
		"symlink_dir_chain":    eNOENT,
		"stat_absolute":        eNOENT,
		"dirfd_dotdot":         eNOENT,
		"dirfd_symlink":        eNOENT,
		"fd_magic_tail":        eNOENT,
		"fd_magic_tail_inside": "ok INSIDE",
		"dirfd_inside":         "ok INSIDE",
		"chdir_up":             "ok 0",
		"getcwd":               "/",
		"cwd_relative":         eNOENT,
		"chdir_back":           "ok 0",
		"cwd_inside":           "ok INSIDE",
		// Magic links in a bind are read as plain symlinks, resolved in
		// the guest's root (ENOENT), or refused (ELOOP, EACCES).
		"proc_self_root":        anyErrno,
		"proc_1_root":           anyErrno,
		"proc_self_cwd":         anyErrno,
		"symlink_to_proc_root":  eNOENT,
		"link_absolute":         eNOENT,
		"linkat_follow_symlink": eNOENT,
		"linked_copy":           eNOENT,
		"rename_absolute":       eNOENT,
		"rename_symlink":        "ok 0",
		"renamed_symlink":       eNOENT,
		"symlink_new":           "ok 0",
		"symlink_new_follow":    eNOENT,
		"unlink_absolute":       eNOENT,
		"mkdir_outside":         eNOENT, // the secret's directory is not in the root
		"readlink_abs":          "ok",
		// /dev/shm's symlinks resolve in the guest's root.
		"shm_symlink_abs":           "ok 0",
		"shm_symlink_abs_follow":    eNOENT,
		"shm_symlink_dotdot":        "ok 0",
		"shm_symlink_dotdot_follow": eNOENT,
		"shm_symlink_inside":        "ok 0",
		"shm_symlink_inside_follow": "ok TOP",
		"bind_read":                 "ok BINDOK",
		"bind_dotdot":               "ok TOP",
		"bind_escape":               eNOENT,
		"bind_symlink_abs":          eNOENT,
		"bind_symlink_to_root":      "ok TOP",
		"root_symlink_to_bind":      "ok BINDOK",
		"root_symlink_dotdot":       "ok BINDOK",
		"bind_create":               "ok",
		"bind_created_exists":       "ok 0",
		"chdir_bind":                "ok 0",
		"getcwd_bind":               "/mnt/bind",
		"bind_cwd_dotdot":           "ok TOP",
		"ro_read":                   "ok ROOK",
		"ro_write":                  eROFS,
		"ro_create":                 eROFS,
		"ro_unlink":                 eROFS,
		"ro_mkdir":                  eROFS,
		"ro_chmod":                  eROFS,
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			l := newEscapeLayout(t, prog)
			res, err := testutil.RunElfuse(bin, backend, l.flags(), testutil.Cmd{Args: []string{"/escape", l.secret}, Dir: l.root})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 0 {
				t.Fatalf("escape: %v", res)
			}
			if strings.Contains(string(res.Stdout), "SECRET") {
				t.Errorf("the secret leaked:\n%s", res.Stdout)
			}
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(string(res.Stdout)))
			for sc.Scan() {
				name, rest, _ := strings.Cut(sc.Text(), " ")
				got[name] = rest
			}
			for route, w := range want {
				if got[route] != w && !(w == anyErrno && strings.HasPrefix(got[route], "errno ")) {
					t.Errorf("%s: got %q, want %q", route, got[route], w)
				}
			}
			for route := range got {
				if _, ok := want[route]; !ok {
					t.Errorf("route %s has no expectation (got %q)", route, got[route])
				}
			}
			// What the guest made landed inside the root, never beside the
			// secret; the secret itself is untouched.
			for _, p := range []string{l.secret + ".made", filepath.Join(filepath.Dir(l.secret), "stolen")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created outside the root", p)
				}
			}
			if b, err := os.ReadFile(l.secret); err != nil || string(b) != "SECRET\n" {
				t.Errorf("secret changed: %q, %v", b, err)
			}
			for _, p := range []string{filepath.Join(l.root, "new-link"), filepath.Join(l.root, "abs-moved"),
				filepath.Join(l.bind, "created")} {
				if _, err := os.Lstat(p); err != nil {
					t.Errorf("expected inside the root: %v", err)
				}
			}
			if b, err := os.ReadFile(filepath.Join(l.ro, "file")); err != nil || string(b) != "ROOK\n" {
				t.Errorf("read-only bind changed: %q, %v", b, err)
			}
		})
	}
}

// TestSysrootRefusesHostPrograms: a host program outside the root cannot be
// started by its host path, and a relative PATH lookup happens in the
// root.
func TestSysrootRefusesHostPrograms(t *testing.T) {
	bin := elfuse.Require(t)
	prog := cc.Build(t, testutil.Compilers[0], "sysroot_escape.c")
	cases := []struct {
		name   string
		args   []string
		status int
	}{
		{"host_absolute_path", []string{prog, "/x"}, 127},
		{"name_not_in_root_path", []string{filepath.Base(prog), "/x"}, 127},
		{"host_shell", []string{"/bin/sh", "-c", "true"}, 127},
	}
	dynamic, why := testutil.LookCommand("ls")
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			l := newEscapeLayout(t, prog)
			cases := cases[:len(cases):len(cases)]
			if why == "" {
				// A dynamic host program copied in: its PT_INTERP must be
				// looked up in the root, where there is none.
				data, err := os.ReadFile(dynamic)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(l.root, "dyn"), data, 0o755); err != nil {
					t.Fatal(err)
				}
				cases = append(cases, struct {
					name   string
					args   []string
					status int
				}{"interpreter_not_in_root", []string{"/dyn"}, 127})
			}
			for _, c := range cases {
				res, err := testutil.RunElfuse(bin, backend, []string{"--sysroot", l.root}, testutil.Cmd{Args: c.args, Dir: l.root})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != c.status {
					t.Errorf("%s: %v, want status %d", c.name, res, c.status)
				}
			}
		})
	}
}
