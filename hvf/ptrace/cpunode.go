package ptrace

import "sync"

// lslCPUNode is implemented in cpunode_amd64.s.
func lslCPUNode() (limit uint32, ok bool)

// currentCPU returns the CPU the calling thread runs on. It reads the
// per-CPU segment limit Linux sets up for the vDSO's getcpu (an LSL, ~20 ns
// here) instead of making the getcpu syscall (~1 us in the VMs this backend
// runs in, before each guest run: affinity.go), once a check on this
// host found the two agree; else it makes the syscall.
func currentCPU() (int, error) {
	cpuNode.once.Do(checkCPUNode)
	if cpuNode.ok {
		if l, ok := lslCPUNode(); ok {
			return int(l & 0xfff), nil
		}
	}
	return getcpu()
}

var cpuNode struct {
	once sync.Once
	ok   bool
}

// checkCPUNode compares the segment's CPU with getcpu's. A thread may move
// between the two reads, so it tries a few times: one agreement bracketed
// by the same getcpu answer is enough, a valid segment that never agrees
// (a kernel that does not keep it) is not.
func checkCPUNode() {
	for range 8 {
		a, err1 := getcpu()
		l, ok := lslCPUNode()
		b, err2 := getcpu()
		if err1 != nil || err2 != nil || !ok {
			return
		}
		if a == b && int(l&0xfff) == a {
			cpuNode.ok = true
			return
		}
	}
}
