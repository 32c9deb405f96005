package tests

import "testing"

// TestVDSOClocksAgreeWithSyscalls runs the C library's vDSO clock functions
// (clock_gettime, gettimeofday, time, getcpu) natively and under elfuse:
// monotonic, within a few microseconds of the real syscall, same relations.
func TestVDSOClocksAgreeWithSyscalls(t *testing.T) {
	runProgram(t, progCase{src: "vdso.c"})
}
