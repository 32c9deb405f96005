package tests

import (
	"regexp"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// procCases read the synthetic /proc and /dev where Linux's answer is the
// oracle: the guest must see itself, not the guestproc or elfuse.
func procCases() []testutil.Case {
	c := func(name string, args []string) testutil.Case { return testutil.Case{Name: name, Args: args} }
	return []testutil.Case{
		c("cmdline_is_argv", bb("cat", "/proc/self/cmdline")),
		c("environ_is_envp", bb("env", "-i", "A=1", "B=two words", busybox, "cat", "/proc/self/environ")),
		c("exe_link_is_the_program", bb("readlink", "/proc/self/exe")),
		c("exe_realpath_is_the_program", bb("realpath", "/proc/self/exe")),
		c("comm_is_the_image_name", bb("cat", "/proc/self/comm")),
		c("dev_stdin_link", bb("readlink", "/dev/stdin", "/dev/fd")),
		c("dev_null_swallows", bb("sh", "-c", "echo lost > /dev/null; wc -c < /dev/null; head -c 4 /dev/zero | od -An -tx1")),
		c("self_fd_names_guest_numbers", bb("sh", "-c", "exec 7</dev/null; readlink /proc/self/fd/7; ls /proc/self/fd/ | grep -x 7; cat /proc/self/fdinfo/7 | grep -c flags")),
		c("fd_of_a_proc_file_names_it", bb("sh", "-c", `exec 3</proc/self/status 4</proc; { readlink /proc/self/fd/3; readlink /proc/$$/fd/4; } | sed "s|/proc/$$/|/proc/SELF/|"; stat -L -c %F /proc/self/fd/4`)),
		// As root, Linux opens read-only /proc files for writing and
		// fails the write: EINVAL under /proc/PID, EIO elsewhere; so
		// for another process's comm (0644) whatever the caller.
		c("writes_to_unwritable_proc_files", bb("sh", "-c", `for f in /proc/self/status /proc/uptime /proc/$$/stat /proc/version; do
  (echo x > $f) 2>&1 | sed "s/.*: //"; done
sleep 5 & (echo y > /proc/$!/comm) 2>&1 | sed "s/.*: //"; kill $!
echo renamed > /proc/self/comm; cat /proc/$$/comm; true`)),
		c("status_caps_and_cpus", bb("grep", "-E", "^(Cap|Cpus_allowed|NoNewPrivs|Seccomp)", "/proc/self/status")),
		// The tree is in its supervisor's namespaces, the caller's: the
		// links of /proc/PID/ns, own and another process's, and the
		// namespace files behind them.
		c("namespace_links", bb("sh", "-c", `ls /proc/self/ns; for n in net mnt pid uts; do readlink /proc/$$/ns/$n; done
sh -c 'readlink /proc/$PPID/ns/ipc; readlink /proc/self/task/$$/ns/user; stat -L -c %i /proc/$PPID/ns/net'
ls -l /proc/self/ns/cgroup | cut -c1-10; ls -ld /proc/self/ns | cut -c1-10; sh -c 'ls -ld /proc/$PPID/ns' | cut -c1-10`)),
		// The guest runs in its guestproc's host cgroup, the caller's.
		c("cgroup_is_the_hosts", bb("sh", "-c", `cat /proc/self/cgroup; cat /proc/$$/cgroup | wc -l`)),
		c("oom_score_adj_is_the_processes", bb("sh", "-c", `cat /proc/self/oom_score_adj; echo 500 > /proc/self/oom_score_adj; cat /proc/$$/oom_score_adj /proc/$$/oom_adj
sh -c 'cat /proc/self/oom_score_adj'; echo 15 > /proc/self/oom_adj; cat /proc/$$/oom_score_adj
for v in 2000 -5 x; do (echo $v > /proc/self/oom_score_adj) 2>&1 | sed "s/.*: //"; done; cat /proc/$$/oom_score_adj`)),
		c("statfs_is_procfs", bb("stat", "-f", "-c", "%t", "/proc", "/proc/self/status", "/proc/1")),
		c("task_dir_has_one_thread", bb("sh", "-c", `ls /proc/self/task | wc -l; [ -d /proc/thread-self ] && echo dir`)),
	}
}

// TestProcFSMatchesNative compares /proc and /dev reads with native runs.
func TestProcFSMatchesNative(t *testing.T) {
	for _, c := range procCases() {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

// runProc runs argv under every available backend and hands the result
// to check.
func runProc(t *testing.T, flags []string, argv []string, check func(t *testing.T, r testutil.Result)) {
	for _, b := range testutil.Backends() {
		t.Run(b, func(t *testing.T) {
			testutil.RequireBackend(t, b)
			bin := elfuse.Require(t)
			r, err := testutil.RunElfuse(bin, b, flags, testutil.Cmd{Args: argv, Dir: t.TempDir()})
			if err != nil {
				t.Fatalf("elfuse run: %v", err)
			}
			check(t, r)
		})
	}
}

// TestProcFSFindSeesNoLoops walks /proc two levels deep: synthetic
// directories must not share an identity with their ancestors.
func TestProcFSFindSeesNoLoops(t *testing.T) {
	find, _ := testutil.LookCommand("find")
	if find == "" {
		t.Skip("no find on this host")
	}
	runProc(t, nil, []string{find, "/proc", "-maxdepth", "2"}, func(t *testing.T, r testutil.Result) {
		if strings.Contains(string(r.Stderr), "loop") {
			t.Errorf("find reports a loop: %s", r.Stderr)
		}
		if r.Status != 0 {
			t.Errorf("find: %v", r)
		}
		for _, want := range []string{`(?m)^/proc/self$`, `(?m)^/proc/\d+/status$`, `(?m)^/proc/cpuinfo$`, `(?m)^/proc/sys/kernel$`} {
			if !regexp.MustCompile(want).Match(r.Stdout) {
				t.Errorf("find output lacks %s:\n%s", want, r.Stdout)
			}
		}
	})
}

// TestProcFSIdentities stats synthetic files twice: distinct files have
// distinct (device, inode) pairs, and the same file keeps its pair.
func TestProcFSIdentities(t *testing.T) {
	files := []string{"/proc/self/status", "/proc/self/maps", "/proc/self/fd", "/proc/self/", "/proc",
		"/proc/self/stat", "/proc/cpuinfo", "/proc/self/fdinfo"}
	list := strings.Join(files, " ")
	runProc(t, nil, bb("sh", "-c", "exec stat -L -c '%d:%i %n' "+list+" "+list), func(t *testing.T, r testutil.Result) {
		lines := strings.Split(strings.TrimSpace(string(r.Stdout)), "\n")
		if r.Status != 0 || len(lines) != 2*len(files) {
			t.Fatalf("stat: %v", r)
		}
		seen := map[string]string{}
		for i, l := range lines[:len(files)] {
			id, name, _ := strings.Cut(l, " ")
			if other, dup := seen[id]; dup {
				t.Errorf("%s and %s share identity %s", other, name, id)
			}
			seen[id] = name
			if again := lines[len(files)+i]; again != l {
				t.Errorf("identity changed between stats: %q then %q", l, again)
			}
		}
	})
}

// mapsLine is one line of /proc/PID/maps.
var mapsLine = regexp.MustCompile(`^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][ps] [0-9a-f]{8,} [0-9a-f]{2,}:[0-9a-f]{2,} \d+ *(.*)$`)

// TestProcFSMapsParse checks /proc/self/maps (and smaps' header lines)
// parse and show the stack and the program.
func TestProcFSMapsParse(t *testing.T) {
	for _, file := range []string{"/proc/self/maps", "/proc/self/smaps"} {
		t.Run(strings.TrimPrefix(file, "/proc/self/"), func(t *testing.T) {
			runProc(t, nil, bb("cat", file), func(t *testing.T, r testutil.Result) {
				var stack, image bool
				for _, l := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
					if strings.Contains(l, ":") && !strings.Contains(l, "-") || strings.HasPrefix(l, "VmFlags") {
						continue // an smaps counter
					}
					m := mapsLine.FindStringSubmatch(l)
					if m == nil {
						t.Errorf("line does not parse: %q", l)
						continue
					}
					stack = stack || m[1] == "[stack]"
					image = image || strings.HasSuffix(m[1], "busybox")
				}
				if !stack || !image {
					t.Errorf("stack %v, image %v in:\n%s", stack, image, r.Stdout)
				}
			})
		})
	}
}

// TestProcFSStatusNamesTheGuest reads status fields a ps-like reader uses.
func TestProcFSStatusNamesTheGuest(t *testing.T) {
	runProc(t, nil, bb("sh", "-c", `echo $$; exec cat /proc/self/status`), func(t *testing.T, r testutil.Result) {
		pid, status, _ := strings.Cut(string(r.Stdout), "\n")
		for _, want := range []string{"Name:\tcat\n", "Pid:\t" + pid + "\n", "Tgid:\t" + pid + "\n",
			"Threads:\t1\n", "SigBlk:\t", "VmSize:", "Cpus_allowed_list:\t"} {
			if !strings.Contains(status, want) {
				t.Errorf("status lacks %q:\n%s", want, status)
			}
		}
	})
}

// TestProcFSSelfIsTheGuestPid checks /proc/self names the guest pid
// getpid returns (the host's pid of the guestproc would leak otherwise).
func TestProcFSSelfIsTheGuestPid(t *testing.T) {
	runProc(t, nil, bb("sh", "-c", `echo $$; exec readlink /proc/self`), func(t *testing.T, r testutil.Result) {
		lines := strings.Fields(string(r.Stdout))
		if len(lines) != 2 || lines[0] != lines[1] {
			t.Errorf("getpid and /proc/self differ: %v", r)
		}
	})
}

// TestProcFSUnderSysroot checks the synthetic tree replaces the sysroot's
// /proc and /dev: the program is named by its guest path, maps show guest
// paths, /dev/shm works (also as the cwd) and find sees no loops.
func TestProcFSUnderSysroot(t *testing.T) {
	root := debianSysroot(t)
	script := `readlink /proc/self/exe; realpath /proc/self/exe; grep -c ' /usr/bin/grep$' /proc/self/maps; ` +
		`echo shm > /dev/shm/procfs-test && cat /dev/shm/procfs-test && rm /dev/shm/procfs-test; ` +
		`find /proc /dev -maxdepth 2 2>&1 | grep -c 'loop'; stat -f -c %T /proc /proc/self/status; ` +
		`cd /dev/shm && /bin/pwd && ls -d ../null`
	runProc(t, []string{"--sysroot", root}, []string{"/bin/bash", "-c", script}, func(t *testing.T, r testutil.Result) {
		want := "/usr/bin/readlink\n/usr/bin/realpath\n"
		if got := string(r.Stdout); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "shm\n0\nproc\nproc\n/dev/shm\n../null\n") ||
			strings.Contains(got, "\n0\nshm") {
			t.Errorf("got %v, want %q, a nonzero maps count, shm, 0 loops, a procfs /proc and /dev/shm as the cwd", r, want)
		}
	})
}
