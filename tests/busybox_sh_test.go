package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// shCases are ash scripts made of builtins only: no fork, no exec (checked
// by TestBusyboxCasesDoNotFork), so they need nothing beyond one process.
func shCases() []testutil.Case {
	s := func(name, script string, args ...string) testutil.Case {
		return testutil.Case{Name: name, Args: sh(script, args...), Files: textFiles()}
	}
	return []testutil.Case{
		s("while_loop_arith", `i=0; while [ $i -lt 6 ]; do echo "i=$i sq=$((i*i))"; i=$((i+1)); done`),
		s("for_words_and_globs", `for w in one two "three four"; do echo "[$w]"; done; for f in *.txt; do echo "file $f"; done`),
		s("arithmetic_ops", `echo $(( (7*6) % 5 + 2**10 - 0x10 + 010 )) $(( 1<<20 )) $(( -7 / 2 )) $(( 5 > 3 && 2 < 1 )) $(( ~0 ))`),
		s("case_patterns", `for x in apple 42 x.tar.gz ''; do case "$x" in a*) echo "$x: a-word";; [0-9]*) echo "$x: number";; *.gz) echo "$x: gzip";; *) echo "'$x': other";; esac; done`),
		s("functions_recursion", `fib() { if [ $1 -lt 2 ]; then r=$1; return; fi; fib $(($1-1)); local a=$r; fib $(($1-2)); r=$((a+r)); }; fib 15; echo "fib15=$r"`),
		s("string_operations", `s="hello.world.tar.gz"; echo ${#s} ${s%.gz} ${s%%.*} ${s#*.} ${s##*.} ${s/o/0} ${s//o/0} ${s:3:5} ${unset:-dflt} ${s:+set}`),
		s("positional_params", `echo $# "$1" "$2"; shift; echo $# "$@"; set -- a b c d; echo $#; for a; do printf '<%s>' "$a"; done; echo`, "first", "second arg", "third"),
		{Name: "read_stdin_redirect", Args: sh(`n=0; while IFS=, read name qty price; do n=$((n+1)); echo "$n: $price x $qty of $name"; done; echo "lines=$n"`), Files: textFiles(), StdinFile: "data.csv"},
		s("read_from_file_redirect", `while read a b; do echo "${b:-none} <- $a"; done < lines.txt`),
		s("printf_builtin", `printf '%5s|%-5s|%05d|%x|%o|%e|%c\n' ab cd 42 255 8 12345.678 xyz; printf '%s\n' a b c`),
		s("test_builtin", `for p in lines.txt nothing empty.txt .; do [ -e "$p" ] && echo "$p exists"; [ -s "$p" ] && echo "$p nonempty"; [ -d "$p" ] && echo "$p dir"; done; [ "abc" \< "abd" ] && echo lt; test 3 -ge 3 && echo ge`),
		s("here_document", "read first rest <<EOF\nalpha beta gamma\nEOF\necho \"$rest/$first\"; while read l; do echo \"> $l\"; done <<'END'\nline $HOME not expanded\nsecond\nEND"),
		{Name: "redirect_to_files", Args: sh(`echo one > out.txt; echo two >> out.txt; printf 'x%sy\n' 1 2 >> out.txt; exec 3> fd3.txt; echo via fd3 >&3; exec 3>&-; echo done`), Files: textFiles(), CompareFiles: true},
		s("exit_status_propagates", `false; echo "false=$?"; true; echo "true=$?"; exit 42`),
		s("ifs_splitting", `IFS=:; v="a:b::c"; for x in $v; do echo "<$x>"; done; unset IFS; v="  lots   of   space "; set -- $v; echo $#`),
		s("getopts_builtin", `while getopts "ab:c" o; do case $o in b) echo "b=$OPTARG";; *) echo "opt $o";; esac; done; shift $((OPTIND-1)); echo "rest: $*"`, "-a", "-b", "val", "-c", "x", "y"),
		s("trap_on_exit", `trap 'echo cleanup $?' EXIT; echo working; exit 3`),
		s("eval_and_indirection", `x=y; y=42; eval "echo \$$x"; cmd='echo evaluated'; eval "$cmd"`),
		s("ulimit_and_umask", `ulimit -n; ulimit -s; umask 027; umask; umask -S`),
		s("nested_loops_break_continue", `for i in 1 2 3 4; do for j in a b c; do [ $j = b ] && continue; [ $i = 3 ] && break 2; echo "$i$j"; done; done; echo end`),
		s("syntax_error_status", `if then fi`),
	}
}

func TestBusyboxSh(t *testing.T) {
	requireBusybox(t)
	for _, c := range shCases() {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
