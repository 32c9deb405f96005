package kernel

import "github.com/elfuse/elfuse/kernel/abi"

// hostWindow is the host view of guest memory: guest address A is byte
// A%chunk of chunks[A/chunk]. Usually one contiguous mapping covers the
// whole address space (whole != nil); see mapWindow for when it is split.
type hostWindow struct {
	whole  []byte
	chunks [][]byte
	chunk  abi.Addr
}

// span returns the host bytes of r when they are contiguous on the host
// (always, unless r crosses a chunk boundary of a split window).
func (w *hostWindow) span(r abi.Range) ([]byte, bool) {
	if w.whole != nil {
		return w.whole[r.Start:r.End:r.End], true
	}
	if r.Len() == 0 {
		return []byte{}, true
	}
	i := r.Start / w.chunk
	if (r.End-1)/w.chunk != i {
		return nil, false
	}
	base := i * w.chunk
	return w.chunks[i][r.Start-base : r.End-base : r.End-base], true
}

// pieces calls fn on each host-contiguous piece of r in address order and
// stops at the first error.
func (w *hostWindow) pieces(r abi.Range, fn func(at abi.Addr, b []byte) error) error {
	for at := r.Start; at < r.End; {
		end := r.End
		if w.whole == nil {
			end = min(end, (at/w.chunk+1)*w.chunk)
		}
		b, _ := w.span(abi.Range{Start: at, End: end})
		if err := fn(at, b); err != nil {
			return err
		}
		at = end
	}
	return nil
}

// copyOut copies src into guest range starting at addr; copyIn the reverse.
// Both return the count copied (all of it: callers check the range).
func (w *hostWindow) copyOut(addr abi.Addr, src []byte) int {
	n := 0
	w.pieces(abi.Range{Start: addr, End: addr + abi.Addr(len(src))}, func(_ abi.Addr, b []byte) error {
		n += copy(b, src[n:])
		return nil
	})
	return n
}

func (w *hostWindow) copyIn(addr abi.Addr, dst []byte) int {
	n := 0
	w.pieces(abi.Range{Start: addr, End: addr + abi.Addr(len(dst))}, func(_ abi.Addr, b []byte) error {
		n += copy(dst[n:], b)
		return nil
	})
	return n
}

// move copies n bytes of guest memory from src to dst (non-overlapping).
func (w *hostWindow) move(dst, src abi.Addr, n uint64) {
	w.pieces(abi.Range{Start: src, End: src + abi.Addr(n)}, func(at abi.Addr, b []byte) error {
		w.copyOut(dst+(at-src), b)
		return nil
	})
}

// zero clears guest range r.
func (w *hostWindow) zero(r abi.Range) {
	w.pieces(r, func(_ abi.Addr, b []byte) error {
		clear(b)
		return nil
	})
}
