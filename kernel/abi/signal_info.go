package abi

import "encoding/binary"

// si_code values common to all signals (asm-generic/siginfo.h).
const (
	SI_USER    = 0
	SI_KERNEL  = 0x80
	SI_QUEUE   = -1
	SI_TIMER   = -2
	SI_MESGQ   = -3
	SI_ASYNCIO = -4
	SI_SIGIO   = -5
	SI_TKILL   = -6
)

// SIGILL si_codes.
const (
	ILL_ILLOPC = 1
	ILL_ILLOPN = 2
	ILL_ILLADR = 3
	ILL_ILLTRP = 4
	ILL_PRVOPC = 5
	ILL_PRVREG = 6
	ILL_COPROC = 7
	ILL_BADSTK = 8
)

// SIGFPE si_codes.
const (
	FPE_INTDIV = 1
	FPE_INTOVF = 2
	FPE_FLTDIV = 3
	FPE_FLTOVF = 4
	FPE_FLTUND = 5
	FPE_FLTRES = 6
	FPE_FLTINV = 7
	FPE_FLTSUB = 8
)

// SIGSEGV si_codes.
const (
	SEGV_MAPERR = 1
	SEGV_ACCERR = 2
	SEGV_BNDERR = 3
	SEGV_PKUERR = 4
)

// SIGBUS si_codes.
const (
	BUS_ADRALN = 1
	BUS_ADRERR = 2
	BUS_OBJERR = 3
)

// SIGTRAP si_codes.
const (
	TRAP_BRKPT = 1
	TRAP_TRACE = 2
)

// SIGCHLD si_codes.
const (
	CLD_EXITED    = 1
	CLD_KILLED    = 2
	CLD_DUMPED    = 3
	CLD_TRAPPED   = 4
	CLD_STOPPED   = 5
	CLD_CONTINUED = 6
)

// SizeofSiginfo is sizeof(siginfo_t).
const SizeofSiginfo = 128

// Offsets inside siginfo_t of the union members this kernel fills. The
// union starts at 16 on x86-64 (three ints and padding before it).
const (
	siginfoPidOffset    = 16 // _kill._pid, _rt._pid, _sigchld._pid
	siginfoUidOffset    = 20 // _kill._uid, _rt._uid, _sigchld._uid
	siginfoValueOffset  = 24 // _rt._sigval, _timer._sigval
	siginfoStatusOffset = 24 // _sigchld._status
	siginfoUtimeOffset  = 32 // _sigchld._utime
	siginfoStimeOffset  = 40 // _sigchld._stime
	siginfoAddrOffset   = 16 // _sigfault._addr
	siginfoTimerID      = 16 // _timer._tid
	siginfoOverrun      = 20 // _timer._overrun
	siginfoBandOffset   = 16 // _sigpoll._band
	siginfoFdOffset     = 24 // _sigpoll._fd
)

// Siginfo is siginfo_t: three ints, then a 112-byte union whose meaning
// depends on the signal and si_code; accessors name the union members.
type Siginfo struct {
	Signo int32 // si_signo
	Errno int32 // si_errno
	Code  int32 // si_code
	_     int32
	// Fields is the union, at offset 16 of the Linux structure.
	Fields [SizeofSiginfo - 16]byte
}

func (s *Siginfo) u32(off int) uint32 { return binary.LittleEndian.Uint32(s.Fields[off-16:]) }
func (s *Siginfo) u64(off int) uint64 { return binary.LittleEndian.Uint64(s.Fields[off-16:]) }
func (s *Siginfo) put32(off int, v uint32) {
	binary.LittleEndian.PutUint32(s.Fields[off-16:], v)
}
func (s *Siginfo) put64(off int, v uint64) {
	binary.LittleEndian.PutUint64(s.Fields[off-16:], v)
}

// Pid is si_pid (kill, rt, sigchld layouts).
func (s *Siginfo) Pid() int32 { return int32(s.u32(siginfoPidOffset)) }

// SetPid sets si_pid.
func (s *Siginfo) SetPid(pid int32) { s.put32(siginfoPidOffset, uint32(pid)) }

// Uid is si_uid (kill, rt, sigchld layouts).
func (s *Siginfo) Uid() uint32 { return s.u32(siginfoUidOffset) }

// SetUid sets si_uid.
func (s *Siginfo) SetUid(uid uint32) { s.put32(siginfoUidOffset, uid) }

// Value is si_value (rt and timer layouts), a union of int and pointer.
func (s *Siginfo) Value() uint64 { return s.u64(siginfoValueOffset) }

// SetValue sets si_value.
func (s *Siginfo) SetValue(v uint64) { s.put64(siginfoValueOffset, v) }

// Status is si_status (sigchld layout).
func (s *Siginfo) Status() int32 { return int32(s.u32(siginfoStatusOffset)) }

// SetStatus sets si_status.
func (s *Siginfo) SetStatus(v int32) { s.put32(siginfoStatusOffset, uint32(v)) }

// Utime is si_utime (sigchld layout), in clock ticks.
func (s *Siginfo) Utime() int64 { return int64(s.u64(siginfoUtimeOffset)) }

// SetUtime sets si_utime.
func (s *Siginfo) SetUtime(v int64) { s.put64(siginfoUtimeOffset, uint64(v)) }

// Stime is si_stime (sigchld layout), in clock ticks.
func (s *Siginfo) Stime() int64 { return int64(s.u64(siginfoStimeOffset)) }

// SetStime sets si_stime.
func (s *Siginfo) SetStime(v int64) { s.put64(siginfoStimeOffset, uint64(v)) }

// Addr is si_addr (sigfault layout: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
func (s *Siginfo) Addr() Addr { return Addr(s.u64(siginfoAddrOffset)) }

// SetAddr sets si_addr.
func (s *Siginfo) SetAddr(a Addr) { s.put64(siginfoAddrOffset, uint64(a)) }

// TimerID is si_timerid (timer layout).
func (s *Siginfo) TimerID() int32 { return int32(s.u32(siginfoTimerID)) }

// SetTimerID sets si_timerid.
func (s *Siginfo) SetTimerID(v int32) { s.put32(siginfoTimerID, uint32(v)) }

// Overrun is si_overrun (timer layout).
func (s *Siginfo) Overrun() int32 { return int32(s.u32(siginfoOverrun)) }

// SetOverrun sets si_overrun.
func (s *Siginfo) SetOverrun(v int32) { s.put32(siginfoOverrun, uint32(v)) }

// Band is si_band (sigpoll layout).
func (s *Siginfo) Band() int64 { return int64(s.u64(siginfoBandOffset)) }

// SetBand sets si_band.
func (s *Siginfo) SetBand(v int64) { s.put64(siginfoBandOffset, uint64(v)) }

// Fd is si_fd (sigpoll layout).
func (s *Siginfo) Fd() int32 { return int32(s.u32(siginfoFdOffset)) }

// SetFd sets si_fd.
func (s *Siginfo) SetFd(v int32) { s.put32(siginfoFdOffset, uint32(v)) }

// MarshalBytes encodes s into dst[:SizeofSiginfo].
func (s *Siginfo) MarshalBytes(dst []byte) {
	le := binary.LittleEndian
	le.PutUint32(dst[0:], uint32(s.Signo))
	le.PutUint32(dst[4:], uint32(s.Errno))
	le.PutUint32(dst[8:], uint32(s.Code))
	le.PutUint32(dst[12:], 0)
	copy(dst[16:SizeofSiginfo], s.Fields[:])
}

// UnmarshalBytes decodes s from src[:SizeofSiginfo].
func (s *Siginfo) UnmarshalBytes(src []byte) {
	le := binary.LittleEndian
	s.Signo = int32(le.Uint32(src[0:]))
	s.Errno = int32(le.Uint32(src[4:]))
	s.Code = int32(le.Uint32(src[8:]))
	copy(s.Fields[:], src[16:SizeofSiginfo])
}
