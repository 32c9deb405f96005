// hello: the smallest useful guest.
#include <stdio.h>

int main(int argc, char **argv) {
	printf("hello from %s with %d args\n", argc > 1 ? argv[1] : "nobody", argc);
	return argc > 2 ? argc : 0;
}
