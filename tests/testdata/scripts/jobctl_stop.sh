# Job control in a bash script (set -m: jobs get groups of their own and
# bash waits with WUNTRACED). Only points where bash's view is settled are
# printed: after wait returns for a stop or an end, after bg.
set -m
sleep 1 &
kill -TSTP %1; wait %1; echo "TSTP from the shell: wait=$?"; jobs
bg %1 >/dev/null; wait %1; echo "continued, ends: $?"
(kill -TSTP $BASHPID; echo resumed) & wait $!; echo "TSTP to itself: wait=$?"; jobs
bg %1 >/dev/null; wait %1; echo "continued, ends: $?"
sleep 5 & kill -STOP $!; wait $!; echo "STOP: wait=$?"; jobs
kill -HUP %1; bg %1 >/dev/null; wait %1; echo "HUP while stopped, then bg: $?"
sleep 5 & kill -TTIN $!; wait $!; echo "TTIN: wait=$?"
kill %1; bg %1 >/dev/null; wait %1; echo "TERM while stopped, then bg: $?"
sleep 5 & kill -TTOU $!; wait $!; echo "TTOU: wait=$?"
kill -CONT %1; kill -TSTP %1; wait %1; echo "CONT then TSTP: wait=$?"
kill -KILL %1; bg %1 >/dev/null 2>&1; wait %1 2>/dev/null; echo "KILL of a stopped job: $?"
(trap 'echo caught TSTP' TSTP; kill -TSTP $BASHPID; echo not stopped) & wait $!; echo "caught: $?"
(trap '' TSTP; kill -TSTP $BASHPID; echo ignored) & wait $!; echo "ignored: $?"
(trap 'echo got CONT' CONT; kill -STOP $BASHPID; echo after CONT) & wait $!; echo "STOP to itself: wait=$?"
bg %1 >/dev/null; wait %1; echo "continued, ends: $?"
