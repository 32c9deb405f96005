# find -exec and xargs run external programs per item.
mkdir -p t/a/b t/c
for f in t/one.txt t/a/two.txt t/a/b/three.txt t/c/four.dat; do echo "content of $f" > "$f"; done
find t -type f | sort
find t -name '*.txt' -exec cat {} \; | sort
find t -type f -exec echo batch: {} + | tr ' ' '\n' | sort
find t -type d | sort | xargs echo dirs:
printf '%s\n' x y z | xargs -n 1 echo item
echo 1 2 3 4 5 6 | xargs -n 2 sh -c 'echo $(($1 + $2))' sh
find t -type f | sort | xargs wc -c | sort -n
find t -name '*.dat' -exec rm {} \;
find t -type f | wc -l
echo a b c | xargs -I{} sh -c 'echo "[{}]"; exit 0'
printf '%s\n' 1 2 3 | xargs sh -c 'exit 3'; echo "xargs status when a command fails: $?"
