# Pipelines: data through several processes, exit statuses, pipefail.
cat lines.txt | grep foo | wc -l
sort nums.txt | uniq -c | sort -rn | head -3
cut -d, -f1 data.csv | tail -n +2 | sort | tr a-z A-Z | paste -sd, -
echo one two three | tr ' ' '\n' | sed 's/^/> /'
yes line | head -n 2000 | wc -l
false | true; echo "last status wins: $?"
true | false; echo "failing last: $?"
set -o pipefail
false | true; echo "pipefail: $?"
set +o pipefail
# A reader that quits early: the writer gets SIGPIPE, the pipeline goes on.
seq 1 100000 | head -n 2
( i=0; while [ $i -lt 5 ]; do echo "gen $i"; i=$((i+1)); done ) | while read a b; do echo "$b<$a"; done
echo "status after while-read pipeline: $?"
