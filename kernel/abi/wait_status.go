package abi

// ChildCode turns a wait status into SIGCHLD's si_code and si_status.
func ChildCode(status uint32) (code, st int32) {
	switch {
	case status&0x7f == 0:
		return CLD_EXITED, int32(status>>8) & 0xff
	case status == 0xffff:
		return CLD_CONTINUED, SIGCONT
	case status&0xff == 0x7f:
		return CLD_STOPPED, int32(status>>8) & 0xff
	case status&0x80 != 0:
		return CLD_DUMPED, int32(status & 0x7f)
	}
	return CLD_KILLED, int32(status & 0x7f)
}

// ExitSiginfo is the siginfo of the signal sig a parent gets when its
// child pid ends with wait status status after using ru, sent by uid.
func ExitSiginfo(sig, pid int32, uid, status uint32, ru Rusage) Siginfo {
	info := Siginfo{Signo: sig}
	code, st := ChildCode(status)
	info.Code = code
	info.SetPid(pid)
	info.SetUid(uid)
	info.SetStatus(st)
	info.SetUtime(ClockTicks(ru.Utime))
	info.SetStime(ClockTicks(ru.Stime))
	return info
}

// ClockTicks converts a time to USER_HZ (100) ticks, siginfo's unit.
func ClockTicks(tv Timeval) int64 { return tv.Sec*100 + tv.Usec/10000 }
