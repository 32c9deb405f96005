#!/bin/sh
# genproject.sh DIR [MODULES]: writes a multi-module C project into DIR for
# the make -j2 differential test and bench/make.sh. The project has MODULES
# (default 24) library modules, each with its own header, built into
# libmods.a with ar, a main program linked against it, and a `run` target
# that executes the result. Output is deterministic: the same arguments
# always give byte-identical sources, so two builds of two copies can be
# compared object by object. POSIX sh only, so it runs natively, inside a
# sysroot, or under elfuse.
set -eu
dir=$1
n=${2:-24}
mkdir -p "$dir/include" "$dir/src" "$dir/lib"

cat > "$dir/include/common.h" <<'H'
#ifndef COMMON_H
#define COMMON_H
#include <stddef.h>
#include <stdint.h>
#define MIX(a, b) ((((a) << 5) | ((a) >> 27)) ^ (uint32_t)(b))
uint32_t checksum(const char *s, size_t n);
#endif
H

cat > "$dir/lib/common.c" <<'C'
#include "common.h"
uint32_t checksum(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}
C

objs="lib/common.o"
decls=""
calls=""
i=0
while [ "$i" -lt "$n" ]; do
	m=$(printf 'mod%02d' "$i")
	cat > "$dir/include/$m.h" <<H
#ifndef ${m}_H
#define ${m}_H
#include "common.h"
struct ${m}_state { uint32_t acc; int steps; };
uint32_t ${m}_run(struct ${m}_state *st, uint32_t seed);
const char *${m}_name(void);
#endif
H
	cat > "$dir/lib/$m.c" <<C
#include <string.h>
#include "$m.h"

static const char name[] = "$m";

const char *${m}_name(void)
{
	return name;
}

uint32_t ${m}_run(struct ${m}_state *st, uint32_t seed)
{
	uint32_t v = seed + $i;
	for (int k = 0; k < 100 + $i * 7; k++) {
		v = MIX(v, k * $((i + 3)));
		if (v % $((i + 2)) == 0)
			st->steps++;
	}
	st->acc ^= v ^ checksum(name, strlen(name));
	return v;
}
C
	objs="$objs lib/$m.o"
	decls="$decls#include \"$m.h\"
"
	calls="$calls	{ struct ${m}_state st = {0, 0}; seed = ${m}_run(&st, seed); printf(\"%s %08x %d\\n\", ${m}_name(), st.acc, st.steps); }
"
	i=$((i + 1))
done

{
	printf '#include <stdio.h>\n%s\n' "$decls"
	printf 'int main(void)\n{\n\tuint32_t seed = 1;\n%s' "$calls"
	printf '\tprintf("final %%08x\\n", seed);\n\treturn 0;\n}\n'
} > "$dir/src/main.c"

{
	printf 'CC = gcc\nCFLAGS = -O2 -Wall -Werror -Iinclude\nAR = ar\n'
	printf 'OBJS = %s\n\n' "$objs"
	printf 'all: prog\n\n'
	printf 'libmods.a: $(OBJS)\n\trm -f $@\n\t$(AR) rcsD $@ $(OBJS)\n\n'
	printf 'prog: src/main.o libmods.a\n\t$(CC) -o $@ src/main.o -L. -lmods\n\n'
	printf '%%.o: %%.c include/common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n'
	printf 'run: prog\n\t./prog\n\n'
	printf 'clean:\n\trm -f prog libmods.a src/*.o lib/*.o\n\n'
	printf '.PHONY: all run clean\n'
} > "$dir/Makefile"
