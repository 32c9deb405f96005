package kernel

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// The vDSO data page ([vvar]). One per guestproc: time is the same for every
// image the process execs, so the page lives in a memfd that each image maps
// read-only and a goroutine keeps current for the life of the guestproc.
//
// Layout (all little endian; the vDSO code in vdso.go hard-codes it):
//
//	0  seq      u32  seqlock: odd while the kernel rewrites the page
//	4  mode     u32  1: the fields below are valid; 0: use the syscall
//	8  tscBase  u64  TSC at the anchor
//	16 mult     u64  nanoseconds per TSC tick, as a 32.32 fixed-point number
//	32 real     u64  CLOCK_REALTIME at the anchor, ns
//	40 mono     u64  CLOCK_MONOTONIC at the anchor, ns
//
// (the base of clock id c, 0 or 1, is at 32+8c).
//
// A guest clock reads mono (or real) + (rdtsc - tscBase) * mult >> 32.
const (
	vvarSeq     = 0
	vvarMode    = 4
	vvarTSCBase = 8
	vvarMult    = 16
	vvarReal    = 32
	vvarMono    = 40
	vvarSize    = abi.PageSize
)

// Calibration. The TSC frequency is learnt against the host's
// CLOCK_MONOTONIC over an ever longer baseline (from the first sample), so
// its error falls as 1/baseline; every refresh re-anchors the page on the
// host clock, so drift is bounded by one period's worth of frequency error.
// The page is enabled after the first period: until then guests take the
// syscall, which is always right.
const (
	vclockFirst  = 10 * time.Millisecond
	vclockMaxGap = 250 * time.Millisecond
)

// vclock is the data page and its refresher.
type vclock struct {
	fd   int
	page []byte

	// tsc0/mono0 is the first calibration sample.
	tsc0  uint64
	mono0 int64
	// last is the anchor currently published (valid once enabled).
	last    anchor
	enabled bool
}

// anchor is one published set of clock parameters.
type anchor struct {
	tsc        uint64
	mono, real int64
	mult       uint64 // ns per tick << 32
}

// at returns CLOCK_MONOTONIC at TSC tsc as a guest would compute it.
func (a anchor) at(tsc uint64) int64 {
	d := int64(tsc - a.tsc)
	if d < 0 {
		d = 0
	}
	hi, lo := mul64(uint64(d), a.mult)
	return a.mono + int64(hi<<32|lo>>32)
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1, w2 := t&mask32, t>>32
	w1 += a0 * b1
	return a1*b1 + w2 + w1>>32, a * b
}

// hostTSCMachine is implemented by hvf Machines that can say whether the
// guest's rdtsc reads the host's TSC (same value, no offset or scaling).
// Only then may the data page, calibrated on the host TSC, be used by the
// guest; other machines get a page that sends every call to the syscall.
type hostTSCMachine interface {
	GuestTSCIsHost() bool
}

// frozenVclock is a data page that is never enabled.
var frozenVclock = sync.OnceValues(func() (*vclock, error) { return newVclockPage(false) })

// theVclock is created on first use; its error disables the vDSO clocks
// (the vDSO still maps, its functions take the syscall).
var theVclock = sync.OnceValues(func() (*vclock, error) { return newVclockPage(true) })

// tscUsable says whether the TSC may stand for the host clock: it must be
// invariant (CPUID 0x80000007 EDX bit 8), i.e. the same rate on every CPU
// and in every power state.
func tscUsable() bool {
	if max, _, _, _ := cpuid(0x80000000, 0); max < 0x80000007 {
		return false
	}
	_, _, _, edx := cpuid(0x80000007, 0)
	return edx&(1<<8) != 0
}

// newVclockPage creates a data page, calibrated and refreshed when live is
// set and the TSC is usable.
func newVclockPage(live bool) (*vclock, error) {
	fd, err := unix.MemfdCreate("elfuse-vvar", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("vvar memfd: %w", err)
	}
	if err := unix.Ftruncate(fd, vvarSize); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vvar size: %w", err)
	}
	page, err := mapVvar(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vvar map: %w", err)
	}
	c := &vclock{fd: fd, page: page}
	if live {
		go c.refresh()
	}
	return c, nil
}

// sample reads the TSC and the host clocks as close together as it can: the
// TSC between two monotonic readings, keeping the tightest of a few tries.
func sample() (tsc uint64, mono, real int64) {
	best := int64(math.MaxInt64)
	for range 5 {
		m1 := nanotime()
		t := rdtsc()
		m2 := nanotime()
		if w := m2 - m1; w < best {
			best, tsc, mono = w, t, m1+w/2
			real = time.Now().UnixNano() - (nanotime() - mono)
		}
	}
	return tsc, mono, real
}

// refresh calibrates and then re-anchors the page forever: first after
// vclockFirst, then at doubling intervals up to vclockMaxGap. It runs off
// the start-up path: CPUID exits to the hypervisor on VM hosts (8 µs each
// on ours), and the page is not enabled before the first anchor anyway.
func (c *vclock) refresh() {
	if !tscUsable() {
		return
	}
	c.tsc0, c.mono0, _ = sample()
	gap := vclockFirst
	for {
		time.Sleep(gap)
		if gap < vclockMaxGap {
			gap = min(2*gap, vclockMaxGap)
		}
		c.update(gap)
	}
}

// update publishes a new anchor; next is the time until the following one.
// The guest clock never goes back: the new anchor is the later of the host
// clock and what the published parameters give at the same TSC, and a lead
// over the host is absorbed by running slightly slow until the next anchor.
func (c *vclock) update(next time.Duration) {
	tsc, mono, real := sample()
	if tsc <= c.tsc0 || mono <= c.mono0 {
		return
	}
	rate := float64(mono-c.mono0) / float64(tsc-c.tsc0) // ns per tick
	a := anchor{tsc: tsc, mono: mono, real: real}
	if c.enabled {
		if p := c.last.at(tsc); p > mono {
			lead := p - mono
			a.mono, a.real = p, real+lead
			rate *= max(0.5, 1-float64(lead)/float64(next))
		}
	}
	a.mult = uint64(rate * (1 << 32))
	c.publish(a)
}

// publish writes an anchor under the seqlock.
func (c *vclock) publish(a anchor) {
	seq := c.load32(vvarSeq)
	c.store32(vvarSeq, seq+1)
	c.store64(vvarTSCBase, a.tsc)
	c.store64(vvarMult, a.mult)
	c.store64(vvarMono, uint64(a.mono))
	c.store64(vvarReal, uint64(a.real))
	c.store32(vvarMode, 1)
	c.store32(vvarSeq, seq+2)
	c.last, c.enabled = a, true
}

// vclock returns the data page for m's machine: the live one when the guest
// reads the host's TSC, else one that keeps the guest on the syscalls.
func (m *MM) vclock() (*vclock, error) { return vclockFor(m.machine) }

// vclockFor is the data page for machine (see MM.vclock).
func vclockFor(machine hvf.Machine) (*vclock, error) {
	if h, ok := machine.(hostTSCMachine); ok && h.GuestTSCIsHost() {
		return theVclock()
	}
	return frozenVclock()
}

// mapVDSO maps the data page and the vDSO image into m at VvarAddr and
// VdsoAddr and returns the image's address for AT_SYSINFO_EHDR.
func (m *MM) mapVDSO() (abi.Addr, error) {
	c, err := m.vclock()
	if err != nil {
		return 0, err
	}
	if _, err := m.Mmap(VvarAddr, vvarSize, abi.PROT_READ, abi.MAP_SHARED|abi.MAP_FIXED, c.fd, 0); err != nil {
		return 0, fmt.Errorf("map [vvar]: %w", err)
	}
	m.nameRange(abi.Range{Start: VvarAddr, End: VvarAddr + vvarSize}, "[vvar]")
	img := vdsoImageOnce()
	if _, err := m.Mmap(VdsoAddr, uint64(len(img)), abi.PROT_READ|abi.PROT_EXEC,
		abi.MAP_PRIVATE|abi.MAP_ANONYMOUS|abi.MAP_FIXED, -1, 0); err != nil {
		return 0, fmt.Errorf("map [vdso]: %w", err)
	}
	// The kernel writes the read-only image through its own window onto
	// guest RAM, as the loader fills segments: no write permission to add
	// and remove (each a machine operation, an injected syscall on ptrace).
	// Through the memfd: the window would fault on each fresh page
	// (mm_cold.go).
	m.mu.RLock()
	n := len(img)
	if !m.writeRAM(VdsoAddr, img) {
		n = m.window.copyOut(VdsoAddr, img)
	}
	m.mu.RUnlock()
	if n != len(img) {
		return 0, fmt.Errorf("write [vdso]: %d of %d bytes: %w", n, len(img), abi.EFAULT)
	}
	m.nameRange(abi.Range{Start: VdsoAddr, End: VdsoAddr + abi.Addr(len(img))}, "[vdso]")
	return VdsoAddr, nil
}

var vdsoImageOnce = sync.OnceValue(vdsoImage)

// rdtsc reads the TSC (vdso_amd64.s), ordered like the vDSO's lfence; rdtsc.
func rdtsc() uint64

// ownVvar points the [vvar] region of a fork child's snapshot at this
// guestproc's own data page for machine (vclockFor), in place of the
// parent's, which stops being refreshed when the parent exits. It runs
// before the child's address space is built, so the page is mapped once
// (and a recycled ptrace stub finds it mapped already: hvf/ptrace's
// layout.go); without a page of its own the child keeps the parent's.
func ownVvar(machine hvf.Machine, regions []MapInfo) {
	c, err := vclockFor(machine)
	if err != nil {
		return
	}
	for i := range regions {
		if r := &regions[i]; r.Name == "[vvar]" && r.Fd >= 0 && r.Start == VvarAddr && r.Offset == 0 {
			r.Fd = c.fd
		}
	}
}
