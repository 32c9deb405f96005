# A shell with ~2 MB of variables that changes them between pipelines and
# subshells of builtins: its children copy only the pages changed since an
# earlier fork (kernel/mm_track.go), a pipeline's two children each from
# the copy of another fork.
big=$(head -c 2000000 /dev/zero | tr '\0' b)
x=
for ((i = 0; i < 40; i++)); do
	x="$x$i"
	big="${big:1}$i"
	echo "$x" | { read -r y; echo "pipe $i: ${#y} ${big: -3}"; } | cat
	(echo "sub $i: ${#x} ${x: -2}")
	[ $((i % 7)) = 3 ] && unset big && big=$(head -c 1500000 /dev/zero | tr '\0' c)
done
echo "end ${#big} ${#x}"
