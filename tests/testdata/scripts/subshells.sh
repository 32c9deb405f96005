# Subshells and command substitution: copies of the shell's state.
x=outer
(x=inner; echo "in subshell: $x"; cd /; pwd)
echo "after subshell: $x"; [ "$(pwd)" = "$PWD" ] && echo "cwd unchanged"
(exit 3); echo "subshell exit: $?"
echo "nested: $(echo a $(echo b $(echo c)))"
echo "backticks: `echo old style`"
n=$(wc -l < lines.txt); echo "lines: $n"
v=$(exit 5); echo "substitution status: $?"
{ echo first; echo second; } | sort -r
f() { echo "function in $1"; }
(f subshell)
echo "$(f substitution)"
s=$(for i in 1 2 3; do echo "item$i"; done | tr '\n' ' '); echo "$s"
(trap 'echo subshell exit trap' EXIT; echo body)
y=$( (echo deep; exit 0) ); echo "$y"
(umask 077; umask); umask
(ulimit -n 64; ulimit -n); ulimit -n
(set -- a b c; echo "$#: $*"); echo "$#"
