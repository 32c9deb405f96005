package ptrace

import (
	"fmt"
	"testing"

	"github.com/elfuse/elfuse/hvf"
)

// TestGuestCannotStoreIntoInjectedCalls: guest code storing into the stub's
// in-area (what injected calls read: the scratch page, the batch table, the
// batch strings) faults as a store to a read-only page, while the tracer
// still writes there: a Map (one batch) works afterwards.
func TestGuestCannotStoreIntoInjectedCalls(t *testing.T) {
	for _, addr := range []uint64{scratchAddr, batchTable + 8, batchStrings, outAddr - 8} {
		t.Run(fmt.Sprintf("%#x", addr), func(t *testing.T) {
			var a asm
			rip := a.at()
			a.storeRAX(addr)
			g := newGuest(t, a.b)
			ex := g.run()
			want := hvf.Exit{Reason: hvf.ExitException, Vector: hvf.VectorPF,
				ErrorCode: hvf.PFPresent | hvf.PFWrite | hvf.PFUser, FaultAddr: addr}
			if ex != want {
				t.Errorf("exit = %+v, want %+v", ex, want)
			}
			if got := g.cpu.Regs().RIP; got != rip {
				t.Errorf("RIP = %#x, want %#x", got, rip)
			}
			if err := g.m.Map(extraAddr, pageSize, hvf.ProtRead, g.fd, extraAddr); err != nil {
				t.Fatalf("map after the fault: %v", err)
			}
		})
	}
}
