package tests

import "testing"

// TestGapsPidfdGetfd: pidfd_getfd(2) on a child's file and pipe end (the
// same open file: the offset is shared), its errors (EBADF, EINVAL, EPERM
// for an unprivileged caller, ESRCH once the child exited) and on the
// caller's own pidfd, compared with native.
func TestGapsPidfdGetfd(t *testing.T) {
	runProgram(t, progCase{src: "gaps_pidfd_getfd.c"})
}
