// vmsplice_tee: vmsplice into and out of a pipe (and its errors), tee and
// splice refusing descriptors that are not pipes at once.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void r(const char *w, long v) { printf("%s: %ld %s\n", w, v, v < 0 ? strerror(errno) : ""); }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int p[2];
	if (pipe(p) < 0)
		return 1;
	struct iovec in[2] = {{"hel", 3}, {"lo", 2}};
	r("vmsplice into the write end", vmsplice(p[1], in, 2, 0));
	char b[8] = {0};
	struct iovec out = {b, 5};
	r("vmsplice out of the read end", vmsplice(p[0], &out, 1, 0));
	printf("got %s\n", b);
	r("vmsplice nonblock, empty pipe", vmsplice(p[0], &out, 1, SPLICE_F_NONBLOCK));
	r("vmsplice bad flags", vmsplice(p[1], in, 1, 0x100));
	int f = open("vt.tmp", O_CREAT | O_RDWR | O_TRUNC, 0644);
	r("vmsplice on a file", vmsplice(f, in, 1, 0));
	r("tee pipe to file, empty pipe", tee(p[0], f, 1, 0));
	r("tee file to pipe", tee(f, p[1], 1, 0));
	r("splice file to file", splice(f, NULL, f, NULL, 1, 0));
	close(f);
	unlink("vt.tmp");
	return 0;
}
