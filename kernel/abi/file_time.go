package abi

import "encoding/binary"

// Timespec is struct timespec (__kernel_timespec on x86-64).
//
// It lives in its own file because the time syscalls need it too: if another
// file of this package declares it, keep one of the two.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// SizeofTimespec is sizeof(struct timespec).
const SizeofTimespec = 16

// SizeBytes returns the Linux size of the structure.
func (*Timespec) SizeBytes() int { return SizeofTimespec }

// MarshalBytes encodes ts into dst[:16].
func (ts *Timespec) MarshalBytes(dst []byte) {
	binary.LittleEndian.PutUint64(dst[0:], uint64(ts.Sec))
	binary.LittleEndian.PutUint64(dst[8:], uint64(ts.Nsec))
}

// UnmarshalBytes decodes src[:16] into ts.
func (ts *Timespec) UnmarshalBytes(src []byte) {
	ts.Sec = int64(binary.LittleEndian.Uint64(src[0:]))
	ts.Nsec = int64(binary.LittleEndian.Uint64(src[8:]))
}

// Valid reports whether ts is a valid time value (0 <= tv_nsec < 1e9,
// tv_sec >= 0), as Linux's timespec64_valid.
func (ts *Timespec) Valid() bool {
	return ts.Sec >= 0 && ts.Nsec >= 0 && ts.Nsec < 1e9
}

// Timeval is struct timeval (__kernel_old_timeval on x86-64).
type Timeval struct {
	Sec  int64
	Usec int64
}

// SizeofTimeval is sizeof(struct timeval).
const SizeofTimeval = 16

// SizeBytes returns the Linux size of the structure.
func (*Timeval) SizeBytes() int { return SizeofTimeval }

// MarshalBytes encodes tv into dst[:16].
func (tv *Timeval) MarshalBytes(dst []byte) {
	binary.LittleEndian.PutUint64(dst[0:], uint64(tv.Sec))
	binary.LittleEndian.PutUint64(dst[8:], uint64(tv.Usec))
}

// UnmarshalBytes decodes src[:16] into tv.
func (tv *Timeval) UnmarshalBytes(src []byte) {
	tv.Sec = int64(binary.LittleEndian.Uint64(src[0:]))
	tv.Usec = int64(binary.LittleEndian.Uint64(src[8:]))
}
