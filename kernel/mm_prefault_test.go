package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// prefaultMachine is a fakeMachine that records prefault hints.
type prefaultMachine struct {
	*fakeMachine
	hints []abi.Range
	write []bool
}

func (p *prefaultMachine) PrefaultHint(addr, length uint64, write bool) {
	p.hints = append(p.hints, abi.Range{Start: abi.Addr(addr), End: abi.Addr(addr + length)})
	p.write = append(p.write, write)
}

type prefaultBackend struct{ last *prefaultMachine }

func (b *prefaultBackend) Name() string { return "fake-prefault" }
func (b *prefaultBackend) NewMachine(cfg hvf.Config) (hvf.Machine, error) {
	b.last = &prefaultMachine{fakeMachine: &fakeMachine{}}
	return b.last, nil
}

// TestLoadHintsPrefaultOfStackTopAndSmallData: loading a small static
// program hints its initial stack pages (from the page below sp to the top)
// and its writable segment for writing, its entry page for reading, each
// inside a mapping that allows it; outside a burst of queued Machine calls
// no hint is given.
func TestLoadHintsPrefaultOfStackTopAndSmallData(t *testing.T) {
	path := buildC(t, "-static")
	fb := &prefaultBackend{}
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: fb}
	task, err := k.StartProcess(path, []string{path}, []string{"A=1"})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	mm := task.Proc.MM
	t.Cleanup(func() { mm.Close() })
	pm := fb.last
	sp := abi.Addr(task.CPU.Regs().RSP)
	entry := abi.Addr(task.CPU.Regs().RIP)
	var stack, data, text bool
	for i, h := range pm.hints {
		if h.Start%abi.PageSize != 0 || h.End%abi.PageSize != 0 || h.End <= h.Start {
			t.Errorf("hint %v is not a page range", h)
		}
		want := hvf.ProtRead
		if pm.write[i] {
			want = hvf.ProtWrite
		}
		mm.mu.RLock()
		for a := h.Start; a < h.End; a += abi.PageSize {
			j := mm.find(a)
			if j == len(mm.vmas) || mm.vmas[j].start > a || mm.vmas[j].prot&want == 0 {
				t.Errorf("hint %v (write %v) covers %#x, not memory it may access that way", h, pm.write[i], uint64(a))
				break
			}
		}
		mm.mu.RUnlock()
		switch {
		case !pm.write[i]:
			if h.Start <= entry && entry < h.End {
				text = true
			}
		case h.Start == sp.RoundDown()-abi.PageSize && h.End == mm.stackTop:
			stack = true
		case h.End <= mm.stackTop-StackSize:
			data = true
		}
	}
	if !text {
		t.Errorf("no read hint for the entry page %#x: %v", uint64(entry), pm.hints)
	}
	if !stack {
		t.Errorf("no hint for the stack from the page below sp %#x to the top %#x: %v", uint64(sp), uint64(mm.stackTop), pm.hints)
	}
	if !data {
		t.Errorf("no hint for the program's writable segment: %v", pm.hints)
	}
	n := len(pm.hints)
	mm.hintPrefault(abi.Range{Start: sp.RoundDown(), End: sp.RoundDown() + abi.PageSize}, true)
	if len(pm.hints) != n {
		t.Errorf("a hint was given outside a queued burst")
	}
}

// The first growthPrefault bytes of a heap growth up to maxPrefaultGrowth
// are hinted for writing, with the Map that makes it; a smaller growth
// whole; a larger one and a shrink not at all.
func TestBrkGrowthIsHinted(t *testing.T) {
	pm := &prefaultMachine{fakeMachine: &fakeMachine{}}
	m, err := NewMM(pm, testLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := abi.Addr(0x1000000)
	m.SetBrkStart(start)
	if got := m.SetBrk(start + 132<<10); got != start+132<<10 {
		t.Fatalf("brk = %#x", uint64(got))
	}
	want := abi.Range{Start: start, End: start + growthPrefault}
	if len(pm.hints) != 1 || pm.hints[0] != want || !pm.write[0] {
		t.Fatalf("hints %v (write %v), want %v for writing", pm.hints, pm.write, want)
	}
	top := start + 132<<10
	if m.SetBrk(top + 2*abi.PageSize); len(pm.hints) != 2 || pm.hints[1] != (abi.Range{Start: top, End: top + 2*abi.PageSize}) {
		t.Fatalf("hints %v, want the whole of a two-page growth", pm.hints)
	}
	top += 2 * abi.PageSize
	m.SetBrk(top + maxPrefaultGrowth + abi.PageSize)
	m.SetBrk(start + abi.PageSize)
	if len(pm.hints) != 2 {
		t.Fatalf("hints %v: want none for a large growth or a shrink", pm.hints)
	}
}
