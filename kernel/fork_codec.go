package kernel

// The fork image's wire form. It crossed the fork socket as JSON, whose
// decoding cost the child 200-400 µs of reflection per fork (an 11 KiB
// image: 64 signal actions, the FP area in base64, the environment, the
// regions) before it could start; this fixed little-endian layout takes a
// few microseconds either way. Every field of ForkImage is here in
// declaration order; TestForkImageCodecCoversEveryField fails for one
// that is not.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
)

// MarshalBinary implements encoding.BinaryMarshaler (package ipc sends a
// message body this way when the value has it).
func (img *ForkImage) MarshalBinary() ([]byte, error) {
	w := imageWriter{b: make([]byte, 0, 4096+len(img.FP))}
	w.int(img.Version)
	w.bool(img.Vfork)
	w.int(img.Notify)
	r := &img.Regs
	for _, v := range [...]uint64{r.R15, r.R14, r.R13, r.R12, r.RBP, r.RBX, r.R11, r.R10, r.R9, r.R8,
		r.RAX, r.RCX, r.RDX, r.RSI, r.RDI, r.RIP, r.RFLAGS, r.RSP} {
		w.u64(v)
	}
	w.u64(img.FSBase)
	w.u64(img.GSBase)
	w.bytes(img.FP)
	for i := range img.Actions {
		a := &img.Actions[i]
		w.u64(uint64(a.Handler))
		w.u64(a.Flags)
		w.u64(uint64(a.Restorer))
		w.u64(uint64(a.Mask))
	}
	w.u64(img.SigMask)
	w.u64(uint64(img.AltStack.SP))
	w.u32(img.AltStack.Flags)
	w.u64(img.AltStack.Size)
	w.procState(&img.State)
	w.u32(img.Umask)
	w.int(img.Cwd)
	w.str(img.Exe)
	w.strs(img.Argv)
	w.strs(img.Envp)
	w.u32(uint32(len(img.Auxv)))
	for _, a := range img.Auxv {
		w.u64(a.Key)
		w.u64(a.Val)
	}
	w.bool(img.Sched != nil)
	if s := img.Sched; s != nil {
		w.int(s.Nice)
		w.bytes(s.Affinity)
		w.u32(uint32(s.Policy))
		w.u32(uint32(s.Priority))
		w.int(s.Ioprio)
	}
	w.int(img.RAM)
	w.u32(uint32(len(img.Regions)))
	for i := range img.Regions {
		m := &img.Regions[i]
		w.u64(uint64(m.Start))
		w.u64(uint64(m.End))
		w.u8(uint8(m.Prot))
		w.bool(m.Shared)
		w.u64(m.Offset)
		w.str(m.Name)
		w.u64(m.Dev)
		w.u64(m.Inode)
		w.bool(m.DontFork)
		w.bool(m.WipeOnFork)
		w.int(m.Fd)
		w.bool(m.Direct)
	}
	w.u64(uint64(img.BrkStart))
	w.u64(uint64(img.Brk))
	w.ranges(img.Extents)
	w.u64(img.Writes.Track)
	w.u64(img.Writes.Now)
	w.u32(uint32(len(img.Writes.Bases)))
	for _, b := range img.Writes.Bases {
		w.u64(b.Since)
		w.ranges(b.Dirty)
	}
	w.u32(uint32(len(img.FDs)))
	for i := range img.FDs {
		f := &img.FDs[i]
		w.u32(uint32(f.FD))
		w.int(f.Index)
		w.bool(f.CloseOnExec)
		w.bool(f.Signalfd)
		w.u64(f.SignalMask)
		w.u32(uint32(f.Pidfd))
		w.u64(f.PidfdGen)
	}
	w.u64(uint64(img.SetChildTID))
	w.u64(uint64(img.ClearChildTID))
	return w.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (img *ForkImage) UnmarshalBinary(data []byte) error {
	r := imageReader{b: data}
	*img = ForkImage{}
	img.Version = r.int()
	if img.Version != ForkImageVersion {
		return fmt.Errorf("fork image version %d, want %d: %w", img.Version, ForkImageVersion, abi.EINVAL)
	}
	img.Vfork = r.bool()
	img.Notify = r.int()
	g := &img.Regs
	for _, p := range [...]*uint64{&g.R15, &g.R14, &g.R13, &g.R12, &g.RBP, &g.RBX, &g.R11, &g.R10, &g.R9, &g.R8,
		&g.RAX, &g.RCX, &g.RDX, &g.RSI, &g.RDI, &g.RIP, &g.RFLAGS, &g.RSP} {
		*p = r.u64()
	}
	img.FSBase = r.u64()
	img.GSBase = r.u64()
	img.FP = r.bytes()
	for i := range img.Actions {
		a := &img.Actions[i]
		a.Handler = abi.Addr(r.u64())
		a.Flags = r.u64()
		a.Restorer = abi.Addr(r.u64())
		a.Mask = abi.SigSet(r.u64())
	}
	img.SigMask = r.u64()
	img.AltStack.SP = abi.Addr(r.u64())
	img.AltStack.Flags = r.u32()
	img.AltStack.Size = r.u64()
	r.procState(&img.State)
	img.Umask = r.u32()
	img.Cwd = r.int()
	img.Exe = r.str()
	img.Argv = r.strs()
	img.Envp = r.strs()
	if n := r.count(16); n > 0 {
		img.Auxv = make([]AuxEntry, n)
		for i := range img.Auxv {
			img.Auxv[i] = AuxEntry{Key: r.u64(), Val: r.u64()}
		}
	}
	if r.bool() {
		s := &SchedAttrs{}
		s.Nice = r.int()
		s.Affinity = r.bytes()
		s.Policy = int32(r.u32())
		s.Priority = int32(r.u32())
		s.Ioprio = r.int()
		img.Sched = s
	}
	img.RAM = r.int()
	if n := r.count(40); n > 0 {
		img.Regions = make([]MapInfo, n)
		for i := range img.Regions {
			m := &img.Regions[i]
			m.Start = abi.Addr(r.u64())
			m.End = abi.Addr(r.u64())
			m.Prot = hvf.Prot(r.u8())
			m.Shared = r.bool()
			m.Offset = r.u64()
			m.Name = r.str()
			m.Dev = r.u64()
			m.Inode = r.u64()
			m.DontFork = r.bool()
			m.WipeOnFork = r.bool()
			m.Fd = r.int()
			m.Direct = r.bool()
		}
	}
	img.BrkStart = abi.Addr(r.u64())
	img.Brk = abi.Addr(r.u64())
	img.Extents = r.ranges()
	img.Writes.Track = r.u64()
	img.Writes.Now = r.u64()
	if n := r.count(12); n > 0 {
		img.Writes.Bases = make([]ForkBase, n)
		for i := range img.Writes.Bases {
			img.Writes.Bases[i] = ForkBase{Since: r.u64(), Dirty: r.ranges()}
		}
	}
	if n := r.count(30); n > 0 {
		img.FDs = make([]ForkFD, n)
		for i := range img.FDs {
			f := &img.FDs[i]
			f.FD = int32(r.u32())
			f.Index = r.int()
			f.CloseOnExec = r.bool()
			f.Signalfd = r.bool()
			f.SignalMask = r.u64()
			f.Pidfd = int32(r.u32())
			f.PidfdGen = r.u64()
		}
	}
	img.SetChildTID = abi.Addr(r.u64())
	img.ClearChildTID = abi.Addr(r.u64())
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("fork image: %w", r.err)
	}
	return nil
}

func (w *imageWriter) procState(s *ProcState) {
	c := &s.Creds
	for _, v := range [...]uint32{c.RUID, c.EUID, c.SUID, c.FSUID, c.RGID, c.EGID, c.SGID, c.FSGID} {
		w.u32(v)
	}
	w.u32(uint32(len(c.Groups)))
	for _, g := range c.Groups {
		w.u32(g)
	}
	for _, v := range [...]uint64{c.Caps.Effective, c.Caps.Permitted, c.Caps.Inheritable, c.Caps.Bounding, c.Caps.Ambient} {
		w.u64(v)
	}
	for _, l := range s.Rlimits {
		w.u64(l.Cur)
		w.u64(l.Max)
	}
	w.str(s.Comm)
	w.u32(s.Personality)
	w.u32(uint32(s.Dumpable))
	w.u32(uint32(s.PdeathSig))
	w.bool(s.ChildSubreaper)
	w.bool(s.NoNewPrivs)
	w.bool(s.KeepCaps)
	w.bool(s.THPDisable)
	w.u64(s.TimerSlackNs)
	w.u32(uint32(s.OomScoreAdj))
	w.u32(uint32(s.OomScoreAdjMin))
}

func (r *imageReader) procState(s *ProcState) {
	c := &s.Creds
	for _, p := range [...]*uint32{&c.RUID, &c.EUID, &c.SUID, &c.FSUID, &c.RGID, &c.EGID, &c.SGID, &c.FSGID} {
		*p = r.u32()
	}
	if n := r.count(4); n > 0 {
		c.Groups = make([]uint32, n)
		for i := range c.Groups {
			c.Groups[i] = r.u32()
		}
	}
	for _, p := range [...]*uint64{&c.Caps.Effective, &c.Caps.Permitted, &c.Caps.Inheritable, &c.Caps.Bounding, &c.Caps.Ambient} {
		*p = r.u64()
	}
	for i := range s.Rlimits {
		s.Rlimits[i].Cur = r.u64()
		s.Rlimits[i].Max = r.u64()
	}
	s.Comm = r.str()
	s.Personality = r.u32()
	s.Dumpable = int32(r.u32())
	s.PdeathSig = int32(r.u32())
	s.ChildSubreaper = r.bool()
	s.NoNewPrivs = r.bool()
	s.KeepCaps = r.bool()
	s.THPDisable = r.bool()
	s.TimerSlackNs = r.u64()
	s.OomScoreAdj = int32(r.u32())
	s.OomScoreAdjMin = int32(r.u32())
}

// imageWriter appends little-endian fields; slices and strings are a
// 32-bit count and their elements.
type imageWriter struct{ b []byte }

func (w *imageWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *imageWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *imageWriter) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *imageWriter) int(v int)    { w.u64(uint64(int64(v))) }
func (w *imageWriter) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}
func (w *imageWriter) bytes(b []byte) {
	if b == nil {
		w.u32(math.MaxUint32) // nil stays nil
		return
	}
	w.u32(uint32(len(b)))
	w.b = append(w.b, b...)
}
func (w *imageWriter) str(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}
func (w *imageWriter) strs(list []string) {
	if list == nil {
		w.u32(math.MaxUint32)
		return
	}
	w.u32(uint32(len(list)))
	for _, s := range list {
		w.str(s)
	}
}

// imageReader is imageWriter's reverse; the first short read sets err and
// every later read returns zero.
type imageReader struct {
	b   []byte
	err error
}

var errShortImage = errors.New("truncated")

func (r *imageReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShortImage
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *imageReader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}
func (r *imageReader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}
func (r *imageReader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}
func (r *imageReader) int() int   { return int(int64(r.u64())) }
func (r *imageReader) bool() bool { return r.u8() != 0 }

// count reads an element count, checked against what is left (each
// element takes at least min bytes).
func (r *imageReader) count(min int) int {
	n := r.u32()
	if r.err != nil || n == math.MaxUint32 {
		return 0
	}
	if uint64(n)*uint64(min) > uint64(len(r.b)) {
		r.err = errShortImage
		return 0
	}
	return int(n)
}
func (r *imageReader) bytes() []byte {
	n := r.u32()
	if r.err != nil || n == math.MaxUint32 {
		return nil
	}
	p := r.take(int(n))
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}
func (r *imageReader) str() string { return string(r.take(int(r.u32()))) }
func (r *imageReader) strs() []string {
	n, ok := r.listLen(4)
	if !ok {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = r.str()
	}
	return list
}

// ranges writes a list of ranges (nil stays nil).
func (w *imageWriter) ranges(list []abi.Range) {
	if list == nil {
		w.u32(math.MaxUint32)
		return
	}
	w.u32(uint32(len(list)))
	for _, e := range list {
		w.u64(uint64(e.Start))
		w.u64(uint64(e.End))
	}
}
func (r *imageReader) ranges() []abi.Range {
	n, ok := r.listLen(16)
	if !ok {
		return nil
	}
	list := make([]abi.Range, n)
	for i := range list {
		list[i] = abi.Range{Start: abi.Addr(r.u64()), End: abi.Addr(r.u64())}
	}
	return list
}

// listLen reads the length of a list whose elements take at least min
// bytes each: ok false for a nil list, a failed read, or a length the rest
// cannot hold (an error).
func (r *imageReader) listLen(min int) (int, bool) {
	n := r.u32()
	if r.err != nil || n == math.MaxUint32 {
		return 0, false
	}
	if uint64(n)*uint64(min) > uint64(len(r.b)) {
		r.err = errShortImage
		return 0, false
	}
	return int(n), true
}
