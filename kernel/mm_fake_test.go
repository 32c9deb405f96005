package kernel

import (
	"fmt"
	"sort"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// fakeMachine is an hvf.Machine that records calls and keeps the guest's
// page permissions as intervals, so tests can check that the machine sees
// exactly the VMA table.
type fakeMachine struct {
	calls []string
	maps  []fakeMap // sorted, non-overlapping
	// failMap makes the next Map fail.
	failMap bool
}

type fakeMap struct {
	start, end uint64
	prot       hvf.Prot
	fd         int
	off        int64
}

func (f *fakeMachine) check(addr, length uint64) error {
	if addr%abi.PageSize != 0 || length%abi.PageSize != 0 || length == 0 {
		return fmt.Errorf("fake machine: unaligned range %#x+%#x", addr, length)
	}
	return nil
}

// cut removes [s, e) from the interval list, splitting as needed.
func (f *fakeMachine) cut(s, e uint64) {
	var out []fakeMap
	for _, m := range f.maps {
		if m.end <= s || m.start >= e {
			out = append(out, m)
			continue
		}
		if m.start < s {
			l := m
			l.end = s
			out = append(out, l)
		}
		if m.end > e {
			r := m
			r.off += int64(e - m.start)
			r.start = e
			out = append(out, r)
		}
	}
	f.maps = out
}

func (f *fakeMachine) Map(addr, length uint64, prot hvf.Prot, fd int, off int64) error {
	f.calls = append(f.calls, fmt.Sprintf("map %#x %#x %d", addr, length, prot))
	if err := f.check(addr, length); err != nil {
		return err
	}
	if f.failMap {
		f.failMap = false
		return fmt.Errorf("fake machine: injected failure")
	}
	f.cut(addr, addr+length)
	f.maps = append(f.maps, fakeMap{addr, addr + length, prot, fd, off})
	sort.Slice(f.maps, func(i, j int) bool { return f.maps[i].start < f.maps[j].start })
	return nil
}

func (f *fakeMachine) Protect(addr, length uint64, prot hvf.Prot) error {
	f.calls = append(f.calls, fmt.Sprintf("protect %#x %#x %d", addr, length, prot))
	if err := f.check(addr, length); err != nil {
		return err
	}
	// Every byte must be mapped already.
	at := addr
	for _, m := range f.maps {
		if m.end <= at || m.start >= addr+length {
			continue
		}
		if m.start > at {
			return fmt.Errorf("fake machine: protect of unmapped %#x", at)
		}
		at = m.end
	}
	if at < addr+length {
		return fmt.Errorf("fake machine: protect of unmapped %#x", at)
	}
	var parts []fakeMap
	for _, m := range f.maps {
		s, e := max(m.start, addr), min(m.end, addr+length)
		if s < e {
			p := m
			p.off += int64(s - m.start)
			p.start, p.end, p.prot = s, e, prot
			parts = append(parts, p)
		}
	}
	f.cut(addr, addr+length)
	f.maps = append(f.maps, parts...)
	sort.Slice(f.maps, func(i, j int) bool { return f.maps[i].start < f.maps[j].start })
	return nil
}

func (f *fakeMachine) Unmap(addr, length uint64) error {
	f.calls = append(f.calls, fmt.Sprintf("unmap %#x %#x", addr, length))
	if err := f.check(addr, length); err != nil {
		return err
	}
	f.cut(addr, addr+length)
	return nil
}

func (f *fakeMachine) NewVCPU() (hvf.VCPU, error) { return &fakeVCPU{}, nil }
func (f *fakeMachine) Close() error               { return nil }

// mapCalls counts the recorded Map calls.
func (f *fakeMachine) mapCalls() int {
	n := 0
	for _, c := range f.calls {
		if len(c) > 4 && c[:4] == "map " {
			n++
		}
	}
	return n
}

// fakeVCPU is enough of a vCPU for StartProcess tests.
type fakeVCPU struct {
	regs           hvf.Regs
	fsBase, gsBase uint64
}

func (c *fakeVCPU) Regs() *hvf.Regs           { return &c.regs }
func (c *fakeVCPU) Run() (hvf.Exit, error)    { return hvf.Exit{}, fmt.Errorf("fake vcpu cannot run") }
func (c *fakeVCPU) Kick()                     {}
func (c *fakeVCPU) FSBase() uint64            { return c.fsBase }
func (c *fakeVCPU) SetFSBase(v uint64)        { c.fsBase = v }
func (c *fakeVCPU) GSBase() uint64            { return c.gsBase }
func (c *fakeVCPU) SetGSBase(v uint64)        { c.gsBase = v }
func (c *fakeVCPU) FPState() ([]byte, error)  { return make([]byte, 512), nil }
func (c *fakeVCPU) SetFPState(b []byte) error { return nil }
func (c *fakeVCPU) Close() error              { return nil }

// fakeBackend hands out fake machines.
type fakeBackend struct{ last *fakeMachine }

func (b *fakeBackend) Name() string { return "fake" }
func (b *fakeBackend) NewMachine(cfg hvf.Config) (hvf.Machine, error) {
	b.last = &fakeMachine{}
	return b.last, nil
}

// testLimit keeps test windows small (1 TiB of host address space).
const testLimit abi.Addr = 1 << 40

// newTestMM returns an MM on a fake machine, closed with the test.
func newTestMM(t *testing.T) (*MM, *fakeMachine) {
	t.Helper()
	fm := &fakeMachine{}
	m, err := NewMM(fm, testLimit)
	if err != nil {
		t.Fatalf("NewMM: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, fm
}

// checkMachine verifies that the machine maps exactly the non-PROT_NONE
// VMAs, with their permissions and the right descriptor offsets.
func checkMachine(t *testing.T, m *MM, fm *fakeMachine) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Expand both sides into page-run descriptions and compare.
	type run struct {
		start, end uint64
		prot       hvf.Prot
	}
	var want []run
	for i := range m.vmas {
		v := &m.vmas[i]
		if i > 0 && m.vmas[i-1].end > v.start {
			t.Fatalf("vmas overlap: %+v %+v", m.vmas[i-1], *v)
		}
		if i > 0 && mergeable(&m.vmas[i-1], v) {
			t.Errorf("vmas %#x-%#x and %#x-%#x should have merged", uint64(m.vmas[i-1].start), uint64(m.vmas[i-1].end), uint64(v.start), uint64(v.end))
		}
		if v.prot == 0 {
			continue
		}
		if n := len(want); n > 0 && want[n-1].end == uint64(v.start) && want[n-1].prot == v.prot {
			want[n-1].end = uint64(v.end)
		} else {
			want = append(want, run{uint64(v.start), uint64(v.end), v.prot})
		}
	}
	var got []run
	for _, fmp := range fm.maps {
		if n := len(got); n > 0 && got[n-1].end == fmp.start && got[n-1].prot == fmp.prot {
			got[n-1].end = fmp.end
		} else {
			got = append(got, run{fmp.start, fmp.end, fmp.prot})
		}
		if fmp.fd == m.ramfd && fmp.off != int64(fmp.start) {
			t.Errorf("RAM mapping at %#x uses offset %#x", fmp.start, fmp.off)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("machine mappings differ from VMAs:\n got  %x\n want %x", got, want)
	}
}

// hvfRegs builds the registers of a guest about to run syscall nr.
func hvfRegs(nr uint64, a [6]uint64) hvf.Regs {
	return hvf.Regs{RAX: nr, RDI: a[0], RSI: a[1], RDX: a[2], R10: a[3], R8: a[4], R9: a[5]}
}
