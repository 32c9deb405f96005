# Hundreds of fork+exec in a row: 300 external programs, 50 substitutions.
i=0; ok=0
while [ $i -lt 300 ]; do
	/bin/busybox true && ok=$((ok + 1))
	i=$((i + 1))
done
echo "ran $ok of $i"
j=0
while [ $j -lt 50 ]; do j=$(/bin/busybox expr $j + 1); done
echo "counted to $j by exec"
n=0
for f in lines.txt data.csv nums.txt; do n=$((n + $(/bin/busybox wc -l < $f))); done
echo "total lines $n"
/bin/busybox false || echo "false fails: $?"
