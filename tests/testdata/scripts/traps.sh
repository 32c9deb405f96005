# Traps: signals to the shell itself and to a child shell.
trap 'echo caught USR1' USR1
kill -USR1 $$
echo after USR1
trap 'echo caught TERM' TERM
kill -TERM $$
echo after TERM
trap - USR1
trap '' HUP
kill -HUP $$
echo "ignored HUP"
# A child shell with its own trap, signalled once it says it is ready.
rm -f ready
( trap 'echo child caught TERM; exit 9' TERM; touch ready; while :; do sleep 0.05; done ) &
c=$!
while [ ! -e ready ]; do sleep 0.05; done
kill -TERM $c
wait $c; echo "child shell status: $?"
# An ignored signal is inherited by children (including exec'd ones).
rm -f ready2
( trap '' USR2; sh -c 'touch ready2; sleep 0.5; echo survived USR2' ) &
c=$!
while [ ! -e ready2 ]; do sleep 0.05; done
kill -USR2 $c
wait $c; echo "ignoring child: $?"
trap 'echo exit trap ran' EXIT
sh -c 'kill -TERM $$'; echo "sh killed by TERM: $?"
exit 3
