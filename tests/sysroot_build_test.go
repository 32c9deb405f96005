package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/tests/testutil"
)

// The issue-4 build cases: shells, pipelines, the compiler and make from the
// Debian sysroot, each run natively under chroot(1) with a real /proc
// mounted in the root and under `elfuse --sysroot` (which serves its own
// synthetic /proc), compared on stdout and exit status. The make -j2 case
// also compares every object file the two builds leave behind.

// mountProc mounts proc on ROOT/proc for the native side of a comparison
// unless something is already mounted there, and unmounts it when the test
// ends. It skips when the mount is refused.
func mountProc(t *testing.T, root string) {
	t.Helper()
	target := filepath.Join(root, "proc")
	if mounted, err := isMountPoint(target); err != nil {
		t.Fatal(err)
	} else if mounted {
		return
	}
	if err := unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		t.Skipf("cannot mount proc on %s for the native chroot: %v", target, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Errorf("umount %s: %v", target, err)
		}
	})
}

// isMountPoint reports whether path is a mount point of this mount
// namespace, from /proc/self/mountinfo.
func isMountPoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && fields[4] == path {
			return true, nil
		}
	}
	return false, s.Err()
}

// pythonHas reports whether the sysroot's python3 imports module natively
// (python3-minimal, which mksysroot.sh installs, lacks json).
func pythonHas(chroot, root, module string) bool {
	r, err := testutil.RunRaw([]string{chroot, root, "python3", "-c", "import " + module}, testutil.Cmd{Dir: "/"})
	return err == nil && r.Status == 0
}

// TestSysrootBuildToolsMatchChroot runs dynamic bash, coreutils, findutils,
// gcc, shebang scripts, /proc/self/exe across exec and python3 from the
// Debian sysroot natively and under elfuse.
func TestSysrootBuildToolsMatchChroot(t *testing.T) {
	root := debianSysroot(t)
	chroot := requireChroot(t)
	mountProc(t, root)
	bash := func(script string) []string { return []string{"bash", "-c", script} }
	cases := []chrootCase{
		{name: "bash_pipelines_and_substitution", args: bash(`
			count() { wc -l < "$1"; }
			n=$(count /etc/passwd); users=$(cut -d: -f1 /etc/passwd | head -3 | tr '\n' ,)
			echo "n=$n users=$users sum=$(( $(count /etc/group) + n ))"
			echo "nested: $(echo "$(echo inner | tr a-z A-Z)" | rev)"
			{ echo b; echo a; echo c; } | sort | paste -sd- 
			(cd /etc/apt && echo "sub: $(pwd)"); echo "parent: $(pwd)"
			while read -r line; do echo "<$line>"; done <<-EOT
			one
			two
			EOT
			false | true; echo "pipe status ${PIPESTATUS[*]}"
			set -o pipefail; false | true; echo "pipefail $?"
			exit 7`)},
		{name: "coreutils_sort_uniq_count", args: bash(`cut -d: -f7 /etc/passwd | sort | uniq -c | sort -n; ls /usr/bin | cut -c1 | sort | uniq -c | sort -k1,1n -k2 | tail -5`)},
		{name: "coreutils_text_tools", args: bash(`head -c 4096 /usr/share/common-licenses/GPL-3 | tr -s ' ' '\n' | grep -v '^$' | sort -f | uniq -ci | sort -rn | head -8; seq 1 50 | paste - - - - - | awk '{s+=$5} END {print s}'; md5sum /etc/debian_version | cut -c1-32; wc -c /bin/bash | cut -d' ' -f1`)},
		{name: "findutils_find_name_exec", args: bash(`find /usr/share/zoneinfo/Europe -name 'L*' -exec basename {} \; | sort; find /etc/apt -name '*.d' -type d -exec sh -c 'echo "$1 $(ls "$1" | wc -l)"' sh {} \; | sort; find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name 'libc.so*' -printf '%f\n'`)},
		{name: "findutils_xargs", args: bash(`find /etc -maxdepth 1 -name '*.conf' -print0 | sort -z | xargs -0 wc -l; echo a b c d e | xargs -n2 echo; seq 1 6 | xargs -P2 -n1 sh -c 'echo $(( $0 * $0 ))' | sort -n`)},
		{name: "gcc_hello_and_run", args: bash(`set -e; d=$(mktemp -d); cd "$d"
			printf '#include <stdio.h>\nint main(int argc, char **argv) { printf("hello from %%s, %%d args\\n", argv[0], argc); return 3; }\n' > hello.c
			gcc -O2 -Wall -o a.out hello.c; ./a.out x y || echo "status $?"
			gcc -c -o hello.o hello.c; size -A hello.o | awk '$1==".text" {print "text", $2}'
			cd /; rm -rf "$d"`)},
		{name: "shebang_scripts", args: bash(`d=$(mktemp -d)
			printf '#!/bin/sh\necho "sh script: $# args, first $1"\nexit 5\n' > "$d/s1"
			printf '#!/usr/bin/env bash\necho "env bash: ${BASH_VERSINFO[0]} $(basename "$0")"\n' > "$d/s2"
			printf '#!/usr/bin/python3 -S\nimport sys\nprint("python script", sys.argv[1:])\n' > "$d/s3"
			chmod +x "$d"/s*; "$d/s1" a b; echo "s1 status $?"; "$d/s2"; "$d/s3" p q
			(cd "$d" && ./s1 rel); echo "rel status $?"
			rm -rf "$d"`)},
		// The program elfuse starts is itself a #! script of the root.
		{name: "shebang_as_program_egrep", args: []string{"egrep", "-c", "^(root|daemon|bin):", "/etc/passwd"}},
		{name: "shebang_as_program_with_args", args: []string{"/usr/bin/dpkg-realpath", "/lib64/ld-linux-x86-64.so.2", "/bin/../etc/alternatives/cc"}},
		{name: "perl_one_liner", args: []string{"perl", "-e", `opendir(D, "/etc/apt") or die; print join(",", sort grep { !/^\./ } readdir(D)), "\n"; print scalar(@{[ split /:/, (getpwnam("root"))[7] ]}), " ", -d "/usr" ? "dir" : "no", "\n"; exit 4`}},
		{name: "shebang_exec_replaces_shell", args: bash(`d=$(mktemp -d); printf '#!/bin/bash\nreadlink /proc/self/exe; echo "args $*"\n' > "$d/s"; chmod +x "$d/s"; trap 'rm -rf "$d"' EXIT; (exec "$d/s" one two); echo "after $?"`)},
		{name: "proc_self_exe_across_exec", args: []string{"python3", "-c", `
import os
print(os.readlink("/proc/self/exe"))
os.execv("/bin/sh", ["sh", "-c", "readlink /proc/self/exe; exec readlink /proc/self/exe"])
`}},
		{name: "proc_self_exe_after_bash_exec", args: bash(`readlink /proc/self/exe; exec -a renamed readlink /proc/self/exe`)},
		{name: "python_os_subprocess", args: []string{"python3", "-c", `
import os, subprocess, struct, base64, hashlib
r = subprocess.run(["sh", "-c", "echo out $0; echo err >&2; exit 3", "x"], capture_output=True)
print(r.returncode, r.stdout, r.stderr)
print(subprocess.check_output(["ls", "/etc/apt"]).decode().split())
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"piped through cat")[0], p.returncode)
print(os.path.exists("/etc/debian_version"), os.readlink("/proc/self/exe"), os.getcwd())
st = os.stat("/etc/debian_version")
print(st.st_size, oct(st.st_mode))
print(base64.b64encode(struct.pack("<IHd", 7, 2, 1.5)).decode(), hashlib.sha256(open("/etc/debian_version", "rb").read()).hexdigest())
pid = os.fork()
if pid == 0:
    os._exit(9)
print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`}},
	}
	if pythonHas(chroot, root, "json") {
		cases = append(cases, chrootCase{name: "python_json", args: []string{"python3", "-c",
			`import json, subprocess; d = json.loads(subprocess.check_output(["echo", '{"a": [1, 2], "b": null}'])); print(json.dumps(d, sort_keys=True))`}})
	} else {
		t.Log("python_json not run: the sysroot's python3 has no json module (python3-minimal)")
	}
	runChrootCases(t, func(*testing.T) string { return root }, cases, false)
}

// makeProject writes the generated multi-module C project into dir with
// tests/testdata/sysroot/genproject.sh.
func makeProject(t *testing.T, dir string, modules int) {
	t.Helper()
	gen, err := filepath.Abs("testdata/sysroot/genproject.sh")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", gen, dir, fmt.Sprint(modules)).CombinedOutput()
	if err != nil {
		t.Fatalf("genproject.sh: %v\n%s", err, out)
	}
}

// buildOutputs lists the objects, archive and program a build left in tree.
func buildOutputs(tree testutil.Tree) []string {
	var out []string
	for p := range tree {
		if strings.HasSuffix(p, ".o") || strings.HasSuffix(p, ".a") || p == "prog" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TestSysrootMakeJ2MatchesChroot builds a generated project of 24 library
// modules (headers, a static library made with ar, a main program) with
// make -j2 natively in a chroot and under elfuse, each in its own copy of
// the project shown at the same guest path (a bind mount natively, --bind
// under elfuse), runs the result, and requires the program's output and
// every object, the archive and the program to be byte-identical.
func TestSysrootMakeJ2MatchesChroot(t *testing.T) {
	root := debianSysroot(t)
	chroot := requireChroot(t)
	bin := elfuse.Require(t)
	mountProc(t, root)
	const modules = 24

	guest := fmt.Sprintf("/tmp/elfuse-make-%d", os.Getpid())
	mnt := filepath.Join(root, guest)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(mnt); err != nil {
			t.Errorf("remove the mount point: %v", err)
		}
	})
	args := []string{"bash", "-c", `set -e; cd "$1"; make -j2 -s all; make -s run; ls -1 lib/*.o src/*.o | wc -l`, "build", guest}

	nativeDir := filepath.Join(t.TempDir(), "project")
	makeProject(t, nativeDir, modules)
	if err := unix.Mount(nativeDir, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount the project for the native chroot: %v", err)
	}
	want, err := testutil.RunRaw(append([]string{chroot, root}, args...), testutil.Cmd{Dir: "/"})
	if uerr := unix.Unmount(mnt, 0); uerr != nil {
		t.Fatalf("umount %s: %v", mnt, uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if want.Status != 0 || !bytes.Contains(want.Stdout, []byte("final ")) {
		t.Fatalf("native build failed: %v", want)
	}
	wantTree, err := testutil.Snapshot(nativeDir)
	if err != nil {
		t.Fatal(err)
	}
	if outs := buildOutputs(wantTree); len(outs) != modules+4 {
		t.Fatalf("native build left %d outputs, want %d: %v", len(outs), modules+4, outs)
	}

	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			testutil.RequireBackend(t, backend)
			dir := filepath.Join(t.TempDir(), "project")
			makeProject(t, dir, modules)
			flags := []string{"--sysroot", root, "--bind", dir + ":" + guest}
			got, err := testutil.RunElfuse(bin, backend, flags, testutil.Cmd{Args: args, Dir: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want.Status || !bytes.Equal(got.Stdout, want.Stdout) {
				t.Errorf("native %v\nelfuse %v\n%s", want, got, testutil.LineDiff(string(want.Stdout), string(got.Stdout)))
			}
			gotTree, err := testutil.Snapshot(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range testutil.DiffTrees(wantTree, gotTree) {
				t.Error(d)
			}
		})
	}
}
