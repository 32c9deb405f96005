package kernel

import (
	"encoding/binary"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/cpu"
)

// The FP part of a signal frame. Linux writes the XSAVE image of the
// interrupted code 64-byte aligned above the frame, marks it with
// struct _fpx_sw_bytes in the FXSAVE software-reserved area and
// FP_XSTATE_MAGIC2 right after the image, and points sigcontext.fpstate at
// it. Backends hand us that image through VCPU.FPState: ptrace's
// NT_X86_XSTATE copy already carries the sw bytes (xstate size and XCR0),
// a KVM_GET_XSAVE image may not, in which case its length is the size and
// XCR0 is rebuilt from what the CPU and OS support.

// fpImage is the live FP state as it goes into (or comes out of) a frame.
type fpImage struct {
	data []byte
	// xsave: the image has an XSAVE header; otherwise it is a bare
	// 512-byte FXSAVE area and frames carry no magic.
	xsave bool
	// size is xstate_size: the bytes of data a frame holds.
	size int
	// xfeatures is the feature mask written to fx_sw_bytes.
	xfeatures uint64
}

// newFPImage describes an image returned by VCPU.FPState.
func newFPImage(b []byte) fpImage {
	f := fpImage{data: b}
	if len(b) < abi.XSAVE_MIN_SIZE {
		f.size = min(len(b), abi.FXSAVE_SIZE)
		return f
	}
	f.xsave = true
	var sw abi.FPXSwBytes
	sw.UnmarshalBytes(b[abi.FXSAVE_SW_BYTES:])
	if sw.Magic1 == abi.FP_XSTATE_MAGIC1 && int(sw.XStateSize) >= abi.XSAVE_MIN_SIZE &&
		int(sw.XStateSize) <= len(b) && sw.XFeatures&abi.XFEATURE_MASK_FPSSE == abi.XFEATURE_MASK_FPSSE {
		f.size = int(sw.XStateSize)
		f.xfeatures = sw.XFeatures
		return f
	}
	f.size = len(b)
	f.xfeatures = hostXFeatures() | xstateBV(b)
	return f
}

// frameSize is the space the FP state takes in a frame.
func (f fpImage) frameSize() uint64 {
	if f.xsave {
		return uint64(f.size) + abi.FP_XSTATE_MAGIC2_SIZE
	}
	return uint64(f.size)
}

// frameBytes returns the FP area as written to the frame.
func (f fpImage) frameBytes() []byte {
	out := make([]byte, f.frameSize())
	copy(out, f.data[:f.size])
	if !f.xsave {
		return out
	}
	sw := abi.FPXSwBytes{
		Magic1:       abi.FP_XSTATE_MAGIC1,
		ExtendedSize: uint32(f.size) + abi.FP_XSTATE_MAGIC2_SIZE,
		XFeatures:    f.xfeatures,
		XStateSize:   uint32(f.size),
	}
	sw.MarshalBytes(out[abi.FXSAVE_SW_BYTES:])
	// Like Linux, always claim the legacy x87/SSE state as present.
	le := binary.LittleEndian
	le.PutUint64(out[abi.XSAVE_HDR_OFFSET:], xstateBV(out)|abi.XFEATURE_MASK_FPSSE)
	le.PutUint32(out[f.size:], abi.FP_XSTATE_MAGIC2)
	return out
}

// initImage returns the FP state a handler starts with (Linux's
// fpu__clear_user_states): x87 and SSE in their reset state, every other
// component in its init state.
func (f fpImage) initImage() []byte {
	out := make([]byte, len(f.data))
	le := binary.LittleEndian
	le.PutUint16(out[abi.FXSAVE_FCW:], abi.FCW_DEFAULT)
	le.PutUint32(out[abi.FXSAVE_MXCSR:], abi.MXCSR_DEFAULT)
	if len(f.data) >= abi.FXSAVE_MXCSR_MASK+4 {
		copy(out[abi.FXSAVE_MXCSR_MASK:abi.FXSAVE_MXCSR_MASK+4], f.data[abi.FXSAVE_MXCSR_MASK:])
	}
	if f.xsave {
		le.PutUint64(out[abi.XSAVE_HDR_OFFSET:], abi.XFEATURE_MASK_FPSSE)
	}
	return out
}

// mxcsrMask is the MXCSR bits the CPU accepts (FXSAVE's MXCSR_MASK, with
// the architectural default when it reads zero).
func (f fpImage) mxcsrMask() uint32 {
	if len(f.data) < abi.FXSAVE_MXCSR_MASK+4 {
		return 0xffbf
	}
	m := binary.LittleEndian.Uint32(f.data[abi.FXSAVE_MXCSR_MASK:])
	if m == 0 {
		m = 0xffbf
	}
	return m
}

// fromFrame builds the image to load at sigreturn from the frame's FP
// area (read into buf, frameSize bytes). It follows Linux's
// check_xstate_in_sigframe: a frame without valid magic restores only the
// legacy FXSAVE part, every other component is reset to its init state.
// It fails (SIGSEGV for the guest) on what XRSTOR would refuse: reserved
// MXCSR bits or a non-zero compaction/reserved header.
func (f fpImage) fromFrame(buf []byte) ([]byte, error) {
	out := make([]byte, len(f.data))
	copy(out, f.data)
	le := binary.LittleEndian
	if !f.xsave {
		copy(out, buf[:f.size])
	} else {
		var sw abi.FPXSwBytes
		sw.UnmarshalBytes(buf[abi.FXSAVE_SW_BYTES:])
		fxOnly := sw.Magic1 != abi.FP_XSTATE_MAGIC1 ||
			int(sw.XStateSize) < abi.XSAVE_MIN_SIZE ||
			int(sw.XStateSize) > f.size ||
			sw.XStateSize > sw.ExtendedSize ||
			le.Uint32(buf[sw.XStateSize:]) != abi.FP_XSTATE_MAGIC2
		if fxOnly {
			copy(out[:abi.FXSAVE_SIZE], buf[:abi.FXSAVE_SIZE])
			clear(out[abi.XSAVE_HDR_OFFSET:])
			le.PutUint64(out[abi.XSAVE_HDR_OFFSET:], abi.XFEATURE_MASK_FPSSE)
		} else {
			clear(out[abi.FXSAVE_SIZE:])
			copy(out, buf[:sw.XStateSize])
			hdr := out[abi.XSAVE_HDR_OFFSET : abi.XSAVE_HDR_OFFSET+abi.XSAVE_HDR_SIZE]
			for _, b := range hdr[8:24] {
				if b != 0 {
					return nil, abi.EINVAL
				}
			}
			// Components outside the frame's feature set restart
			// from their init state.
			le.PutUint64(hdr, le.Uint64(hdr)&sw.XFeatures&f.xfeatures)
		}
		// The software-reserved bytes are not CPU state.
		copy(out[abi.FXSAVE_SW_BYTES:abi.FXSAVE_SIZE], f.data[abi.FXSAVE_SW_BYTES:abi.FXSAVE_SIZE])
	}
	if le.Uint32(out[abi.FXSAVE_MXCSR:])&^f.mxcsrMask() != 0 {
		return nil, abi.EINVAL
	}
	return out, nil
}

// xstateBV returns the XSAVE header's XSTATE_BV of an image.
func xstateBV(b []byte) uint64 {
	if len(b) < abi.XSAVE_HDR_OFFSET+8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b[abi.XSAVE_HDR_OFFSET:])
}

// hostXFeatures approximates XCR0 from what the CPU and OS enable; guest
// CPUID and XGETBV are the host's (KVM-NOTES.md), so this is the guest's
// view too.
func hostXFeatures() uint64 {
	x := uint64(abi.XFEATURE_MASK_FPSSE)
	if cpu.X86.HasAVX {
		x |= 1 << 2 // YMM
	}
	if cpu.X86.HasAVX512F {
		x |= 0x7 << 5 // opmask, ZMM_Hi256, Hi16_ZMM
	}
	return x
}
