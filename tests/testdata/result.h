/* result prints a call's value and, when it failed, errno, evaluating the
 * call first (printf's arguments have no order). */
#ifndef ELFUSE_TEST_RESULT_H
#define ELFUSE_TEST_RESULT_H
#include <errno.h>
#include <stdio.h>

#define result(label, call)                                                  \
	do {                                                                 \
		errno = 0;                                                   \
		long r_ = (long)(call);                                      \
		printf("%s: %ld errno=%d\n", label, r_, r_ < 0 ? errno : 0); \
	} while (0)

#endif
