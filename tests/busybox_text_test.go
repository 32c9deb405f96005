package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// textCases are busybox text tools and checksums reading the text fixtures.
func textCases() []testutil.Case {
	c := func(name string, args []string) testutil.Case {
		return testutil.Case{Name: name, Args: args, Files: textFiles()}
	}
	in := func(name, stdinFile string, args []string) testutil.Case {
		tc := c(name, args)
		tc.StdinFile = stdinFile
		return tc
	}
	return []testutil.Case{
		c("echo_words", bb("echo", "hello", "world")),
		c("echo_escapes", bb("echo", "-e", `a\tb\nc\\d`)),
		c("echo_no_newline", bb("echo", "-n", "no newline")),
		c("printf_formats", bb("printf", `%s=%d %x %o %05.2f %-6s|%c\n`, "a", "42", "255", "8", "3.14159", "ab", "Z")),
		c("cat_file", bb("cat", "lines.txt")),
		c("cat_number_lines", bb("cat", "-n", "lines.txt", "data.csv")),
		in("cat_stdin", "lines.txt", bb("cat")),
		c("head_lines", bb("head", "-n", "3", "lines.txt")),
		c("head_bytes", bb("head", "-c", "100", "bin.dat")),
		c("tail_lines", bb("tail", "-n", "2", "lines.txt")),
		c("tail_from_line", bb("tail", "-n", "+8", "lines.txt")),
		c("wc_counts", bb("wc", "lines.txt", "data.csv", "bin.dat")),
		in("wc_lines_stdin", "long.txt", bb("wc", "-l")),
		c("sort_plain", bb("sort", "lines.txt")),
		c("sort_numeric_reverse", bb("sort", "-n", "-r", "nums.txt")),
		c("sort_key_field", bb("sort", "-t", ",", "-k", "2", "-n", "data.csv")),
		c("sort_unique", bb("sort", "-u", "nums.txt")),
		c("uniq_count", bb("uniq", "-c", "lines.txt")),
		c("cut_fields", bb("cut", "-d", ",", "-f", "1,3", "data.csv")),
		c("cut_chars", bb("cut", "-c", "2-6", "lines.txt")),
		in("tr_upper", "lines.txt", bb("tr", "a-z", "A-Z")),
		in("tr_delete_squeeze", "long.txt", bb("tr", "-s", " ", "-d", "aeiou")),
		c("sed_substitute", bb("sed", "s/o/0/g; s/^the/THE/", "lines.txt")),
		c("sed_range_print", bb("sed", "-n", "2,4p;$=", "lines.txt")),
		c("awk_sum_fields", bb("awk", "-F,", "NR>1 {q+=$2; v+=$2*$3} END {printf \"%d %.2f\\n\", q, v}", "data.csv")),
		c("awk_math", bb("awk", "BEGIN { for (i = 1; i <= 6; i++) printf \"%d %.4f %.4f %d\\n\", i, sqrt(i), log(i), i^3 }")),
		c("awk_assoc_arrays", bb("awk", "{ n[$1]++ } END { for (k in n) if (n[k] > 1) print k, n[k] }", "lines.txt")),
		c("grep_extended", bb("grep", "-E", "fo+|ba[rz]|^[a-z]+ [0-9]+$", "lines.txt")),
		c("grep_count_invert", bb("grep", "-c", "-v", "foo", "lines.txt")),
		c("grep_line_numbers", bb("grep", "-n", "-i", "THE", "lines.txt")),
		c("grep_no_match_status", bb("grep", "nothing-matches-this", "lines.txt")),
		c("od_hex_bytes", bb("od", "-A", "x", "-t", "x1z", "-N", "64", "bin.dat")),
		c("od_chars", bb("od", "-c", "tabs.txt")),
		c("hexdump_canonical", bb("hexdump", "-C", "bin.dat")),
		c("xxd_dump", bb("xxd", "-l", "96", "bin.dat")),
		c("expand_tabs", bb("expand", "-t", "4", "tabs.txt")),
		c("fold_width", bb("fold", "-w", "17", "long.txt")),
		c("nl_number", bb("nl", "lines.txt")),
		c("rev_lines", bb("rev", "lines.txt")),
		c("tac_lines", bb("tac", "lines.txt")),
		c("paste_files", bb("paste", "-d", ":", "nums.txt", "data.csv")),
		c("seq_step", bb("seq", "1", "3", "40")),
		c("seq_width", bb("seq", "-w", "-s", ",", "8", "12")),
		c("basename_suffix", bb("basename", "/usr/share/doc/file.txt", ".txt")),
		c("dirname_path", bb("dirname", "/usr/share/doc/file.txt")),
		c("expr_arith", bb("expr", "6", "*", "7", "+", "1")),
		c("expr_string", bb("expr", "length", "hello world")),
		c("expr_false_status", bb("expr", "0", "+", "0")),
		c("test_missing_file", bb("test", "-f", "no-such-file")),
		c("test_dir_false", bb("test", "-d", "lines.txt")),
		c("bracket_compare", bb("[", "10", "-lt", "5", "-o", "-s", "empty.txt", "]")),
		c("base64_encode", bb("base64", "bin.dat")),
		c("strings_binary", bb("strings", "-n", "3", "bin.dat")),
		c("factor_numbers", bb("factor", "123456789", "1000000007", "600851475143")),
		in("bc_bignum", "calc.txt", bb("bc", "-l")),
		c("dc_power", bb("dc", "-e", "2 100 ^ p")),
		c("diff_unified_status", bb("diff", "nums.txt", "lines.txt")),
		c("cmp_differ_status", bb("cmp", "nums.txt", "lines.txt")),
		c("cal_month", bb("cal", "2", "2024")),
		c("date_fixed_epoch", bb("date", "-u", "-d", "@1234567890", "+%Y-%m-%d %H:%M:%S %a %j")),
		c("md5sum_files", bb("md5sum", "lines.txt", "bin.dat", "empty.txt")),
		c("sha1sum_files", bb("sha1sum", "lines.txt", "bin.dat")),
		c("sha256sum_files", bb("sha256sum", "lines.txt", "bin.dat", "long.txt")),
		c("sha512sum_files", bb("sha512sum", "lines.txt", "bin.dat")),
		c("sha3sum_files", bb("sha3sum", "lines.txt", "bin.dat")),
		c("crc32_files", bb("crc32", "lines.txt")),
		in("md5sum_stdin", "bin.dat", bb("md5sum")),
		// System information the guest must see as the host reports it.
		c("uname_all", bb("uname", "-a")),
		c("id_user", bb("id")),
		c("whoami", bb("whoami")),
		c("nproc", bb("nproc")),
		c("hostname", bb("hostname")),
		c("env_passed_through", bb("env")),
		c("which_in_path", bb("which", "busybox", "sh")),
		c("tty_stdin_not_a_tty", bb("tty")),
		c("false_status", bb("false")),
		c("busybox_list", bb("--list")),
		{Name: "missing_file_status", Args: bb("cat", "lines.txt", "no-such-file"), Files: textFiles(), CompareStderr: true},
	}
}

func TestBusyboxText(t *testing.T) {
	requireBusybox(t)
	for _, c := range textCases() {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}

func requireBusybox(t *testing.T) {
	t.Helper()
	if _, why := testutil.LookCommand(busybox); why != "" {
		t.Skip(why)
	}
}
