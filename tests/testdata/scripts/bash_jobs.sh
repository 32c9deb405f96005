# bash-only process features: PIPESTATUS, wait -n, BASHPID, process
# substitution, coproc, job control builtins.
true | false | (exit 3); echo "PIPESTATUS: ${PIPESTATUS[*]}"
(sleep 0.6; exit 2) & (sleep 0.1; exit 5) &
wait -n; echo "first to finish: $?"
wait -n; echo "second: $?"
[ "$BASHPID" = "$$" ] && echo "BASHPID is \$\$ in the main shell"
( [ "$BASHPID" != "$$" ] && echo "BASHPID differs in a subshell" )
diff <(printf 'a\nb\n') <(printf 'a\nc\n'); echo "diff status: $?"
while read -r l; do echo "from substitution: $l"; done < <(printf 'x\ny\n')
# The coproc answers one line, then waits for its input's end: bash closes
# a coproc's descriptors as soon as it reaps it, so one that could end
# before the read would make the read race its reaping.
coproc UP { read -r l; echo "$l" | tr a-z A-Z; read -r _ || exit 3; }
echo "hello coproc" >&"${UP[1]}"
read -r reply <&"${UP[0]}"; echo "$reply"
up_pid=$UP_PID
exec {UP[1]}>&-
wait $up_pid; echo "coproc status: $?"
jobs >/dev/null # reports, and so forgets, the finished coproc
sleep 10 & j=$!
jobs -r | sed 's/[0-9][0-9]*//g' | tr -s ' '
kill %%; wait $j; echo "killed job: $?"
declare -a st=(); for c in 0 1 7; do bash -c "exit $c"; st+=($?); done; echo "statuses ${st[*]}"
out=$(exec 2>&1; echo err >&2); echo "captured: $out"
trap 'echo got CHLD' CHLD; (exit 0); sleep 0.1; trap - CHLD
echo done
