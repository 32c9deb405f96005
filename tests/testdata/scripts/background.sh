# Background jobs, $!, wait and kill.
sleep 0.2 & p=$!
echo started
wait $p; echo "sleep finished: $?"
(exit 7) & q=$!
wait $q; echo "background exit: $?"
for i in 1 2 3; do (sleep 0.$i; echo "job $i" > job$i.out) & done
wait
cat job1.out job2.out job3.out
sleep 10 & k=$!
kill $k; wait $k; echo "killed with TERM: $?"
sleep 10 & k=$!
kill -9 $k; wait $k; echo "killed with KILL: $?"
sleep 10 & k=$!
kill -USR1 $k; wait $k; echo "killed with USR1: $?"
kill -0 $$ && echo "kill -0 self works"
kill -0 $k 2>/dev/null || echo "reaped job is gone"
(sleep 0.1; exit 4) & a=$!; (sleep 0.2; exit 6) & b=$!
wait $b; echo "b: $?"; wait $a; echo "a: $?"
