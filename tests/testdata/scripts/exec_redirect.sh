# exec builtin: replacing a subshell, redirections kept by children.
exec 3> fd3.out
echo "to fd 3" >&3
sh -c 'echo "child writes fd 3" >&3'
exec 3>&-
cat fd3.out
(exec /bin/busybox echo replaced subshell)
echo "still here"
exec 4< lines.txt
read first <&4
sh -c 'read second <&4; echo "child read: $second"'
read third <&4
echo "parent: $first / $third"
exec /bin/busybox sh -c 'echo "shell replaced"; exit 6'
echo "never printed"
