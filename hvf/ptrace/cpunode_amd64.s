#include "textflag.h"

// func lslCPUNode() (limit uint32, ok bool)
//
// LSL of the per-CPU segment Linux keeps in the GDT for the vDSO's getcpu
// (selector 0x7b, __CPUNODE_SEG): its limit is cpu | node<<12. ok is the
// instruction's ZF (the selector was valid and its limit loaded).
TEXT ·lslCPUNode(SB), NOSPLIT, $0-5
	MOVL $0x7b, AX
	XORL BX, BX
	LSLL AX, BX
	SETEQ ok+4(FP)
	MOVL BX, limit+0(FP)
	RET
