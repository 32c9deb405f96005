package ptrace

import (
	"runtime"
	"testing"
)

// TestCurrentCPUMatchesGetcpu: on a locked thread, the CPU currentCPU
// reports is the one getcpu reports just before and after it (when the
// thread did not move in between).
func TestCurrentCPUMatchesGetcpu(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	checked := 0
	for range 1000 {
		a, err := getcpu()
		if err != nil {
			t.Fatal(err)
		}
		c, err := currentCPU()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := getcpu()
		if a != b {
			continue // moved
		}
		checked++
		if c != a {
			t.Fatalf("currentCPU = %d, getcpu = %d (segment check passed: %v)", c, a, cpuNode.ok)
		}
	}
	if checked == 0 {
		t.Skip("the thread moved between every pair of reads")
	}
	t.Logf("segment read used: %v; %d reads checked", cpuNode.ok, checked)
}

func BenchmarkCurrentCPU(b *testing.B) {
	for range b.N {
		currentCPU()
	}
}

func BenchmarkGetcpuSyscall(b *testing.B) {
	for range b.N {
		getcpu()
	}
}
