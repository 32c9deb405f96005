package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// bashStatic is Debian's bash-static: a large static glibc program whose
// builtins exercise more of libc than busybox does.
const bashStatic = "/bin/bash-static"

// bashCases are bash scripts of builtins only (no fork or exec: checked by
// TestBashCasesDoNotFork).
func bashCases() []testutil.Case {
	s := func(name, script string) testutil.Case {
		return testutil.Case{Name: name, Args: []string{bashStatic, "--norc", "--noprofile", "-c", script, "bash"}, Files: textFiles()}
	}
	return []testutil.Case{
		s("arrays", `a=(x "y z" w); a+=(last); echo "${#a[@]}: ${a[1]} ${a[@]:2}"; unset 'a[0]'; echo "${!a[@]}"; declare -A m=([one]=1 [two]=2); echo "${m[one]}${m[two]} ${#m[@]}"`),
		s("regex_match", `for w in abc123 zz9 none; do if [[ $w =~ ^([a-z]+)([0-9]+)$ ]]; then echo "$w: ${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"; else echo "$w: no"; fi; done`),
		s("printf_v_and_formats", `printf -v out '%05d|%-4s|%x|%(%Y)T' 42 ab 255 0; echo "$out"; printf '%q\n' "a b'c"`),
		s("mapfile_from_redirect", `mapfile -t L < lines.txt; echo "${#L[@]} lines; third: ${L[2]}"; readarray -t N < nums.txt; s=0; for n in "${N[@]}"; do ((s+=n)); done; echo "sum=$s"`),
		s("brace_and_arith_loops", `echo {1..5} {a,b}{x,y} {10..1..3}; for ((i=1; i<=1024; i*=4)); do printf '%d ' $i; done; echo; echo $(( 2**40 )) $(( 7 % -3 )) $(( 0x7fffffffffffffff + 1 ))`),
		s("string_case_ops", `s="Hello World"; echo "${s^^} ${s,,} ${s~} ${#s} ${s/World/There} ${s: -5} ${s::5}"`),
		s("read_builtin_options", `while IFS=, read -r -a f; do echo "${#f[@]}:${f[0]}"; done < data.csv; read -r -n 5 x < long.txt; echo "[$x]"`),
		s("exit_status_and_pipefail_builtins", `f() { return 7; }; f; echo "f=$?"; ! false; echo "not=$?"; set -e; trap 'echo "exit $?"' EXIT; false`),
	}
}

func TestBashStatic(t *testing.T) {
	if _, why := testutil.LookCommand(bashStatic); why != "" {
		t.Skip(why)
	}
	for _, c := range bashCases() {
		t.Run(c.Name, func(t *testing.T) { testutil.RunCase(t, elfuse, c) })
	}
}
