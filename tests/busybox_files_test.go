package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// fileCases change the run directory; the directories are compared after
// the run (content and mode of every file).
func fileCases() []testutil.Case {
	f := func(name string, args []string) testutil.Case {
		return testutil.Case{Name: name, Args: args, Files: treeFiles(), CompareFiles: true}
	}
	a := func(name string, args []string) testutil.Case {
		return testutil.Case{Name: name, Args: args, Files: archiveFiles(), CompareFiles: true}
	}
	ain := func(name, stdinFile string, args []string) testutil.Case {
		tc := a(name, args)
		tc.StdinFile = stdinFile
		return tc
	}
	return []testutil.Case{
		// File operations.
		f("cp_preserve", bb("cp", "-p", "tree/secret", "tree/script.sh", "tree/sub")),
		f("cp_recursive", bb("cp", "-a", "tree", "copy")),
		f("mv_rename", bb("mv", "tree/readme.txt", "tree/sub/moved.txt")),
		f("rm_file", bb("rm", "tree/secret", "tree/link")),
		f("rm_recursive", bb("rm", "-r", "tree/sub")),
		f("rm_missing_status", bb("rm", "tree/no-such-file")),
		f("mkdir_parents", bb("mkdir", "-p", "-m", "0711", "x/y/z")),
		f("rmdir_nonempty_status", bb("rmdir", "tree/sub")),
		f("ln_symbolic", bb("ln", "-s", "../tree/readme.txt", "tree/sub/rel")),
		f("ln_hard", bb("ln", "tree/readme.txt", "hard.txt")),
		f("ls_long", bb("ls", "-l", "tree", "tree/sub")),
		f("ls_recursive_all", bb("ls", "-laR", "tree")),
		f("ls_sort_by_size", bb("ls", "-1Sr", "tree/sub", "tree")),
		f("stat_format", bb("stat", "-c", "%n %s %a %F %h %U %G %Y", "tree/readme.txt", "tree/sub", "tree/link", "tree/script.sh")),
		f("stat_dereference", bb("stat", "-L", "-c", "%n %s %a", "tree/link")),
		f("du_sizes", bb("du", "-a", "-k", "tree")),
		f("find_names", bb("find", "tree", "-name", "*.txt")),
		f("find_types_perms", bb("find", "tree", "-type", "f", "-perm", "-100")),
		f("find_size", bb("find", "tree", "-size", "+1k")),
		f("chmod_octal", bb("chmod", "640", "tree/readme.txt", "tree/script.sh")),
		f("chmod_symbolic_recursive", bb("chmod", "-R", "go-rwx,u+x", "tree")),
		f("truncate_grow_shrink", bb("truncate", "-s", "3000", "tree/readme.txt", "tree/sub/deep.txt")),
		f("dd_blocks", bb("dd", "if=tree/sub/deep.txt", "of=out.bin", "bs=16", "count=8", "skip=3", "status=none")),
		f("dd_conv_ucase", bb("dd", "if=tree/readme.txt", "of=up.txt", "conv=ucase", "status=none")),
		f("touch_create", bb("touch", "-d", "2001-02-03 04:05:06", "new.txt", "tree/readme.txt")),
		f("readlink_link", bb("readlink", "tree/link", "tree/dangling")),
		f("mkfifo_mode", bb("mkfifo", "-m", "600", "fifo")),
		f("sed_in_place", bb("sed", "-i", "s/read/READ/", "tree/readme.txt")),
		// Archives.
		a("tar_create", bb("tar", "-cf", "out.tar", "lines.txt", "data.csv", "bin.dat")),
		a("tar_list_verbose", bb("tar", "-tvf", "pkg.tar")),
		a("tar_extract", bb("tar", "-xf", "pkg.tar")),
		a("gunzip_keep", bb("gunzip", "-k", "pkg.tar.gz")),
		a("gzip_stdout", bb("gzip", "-c", "-9", "lines.txt")),
		a("gzip_in_place", bb("gzip", "bin.dat")),
		a("gunzip_stdout", bb("gunzip", "-c", "lines.txt.gz")),
		a("xzcat_stdout", bb("xzcat", "sample.txt.xz")),
		a("bzcat_stdout", bb("bzcat", "sample.txt.bz2")),
		a("bzip2_stdout", bb("bzip2", "-c", "long.txt", "lines.txt")),
		a("bunzip2_stdout", bb("bunzip2", "-c", "sample.txt.bz2")),
		a("bzip2_round_trip", bb("bzip2", "-k", "bin.dat")),
		a("xz_decompress", bb("xz", "-d", "-c", "sample.txt.xz")),
		a("unxz_in_place", bb("unxz", "sample.txt.xz")),
		ain("cpio_list", "sample.cpio", bb("cpio", "-t", "-v")),
		ain("cpio_extract", "sample.cpio", bb("cpio", "-i", "-d", "-m")),
	}
}

func TestBusyboxFiles(t *testing.T) {
	requireBusybox(t)
	for _, c := range fileCases() {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
