package ptrace

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ptracePtr issues a ptrace request whose data argument is a pointer into
// Go memory that stays live for the call.
func ptracePtr(req, pid int, addr uintptr, data unsafe.Pointer) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, uintptr(data), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// goWait4 is wait4(pid, ws, __WALL) as a Go system call.
func goWait4(pid int, ws *unix.WaitStatus) error {
	_, err := unix.Wait4(pid, ws, unix.WALL, nil)
	return err
}

// rawWait4 is wait4(pid, ws, __WALL) made without telling the Go scheduler
// (tick.go says when that is safe).
func rawWait4(pid int, ws *unix.WaitStatus) error {
	_, _, e := unix.RawSyscall6(unix.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(ws)), unix.WALL, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// sigInfo is the part of a Linux siginfo_t the backend needs.
type sigInfo struct {
	Signo int32
	Code  int32
	// Addr is si_addr: the faulting address for SIGSEGV/SIGBUS, the
	// instruction for SIGILL/SIGFPE.
	Addr uint64
}

// getSigInfo implements PTRACE_GETSIGINFO.
func getSigInfo(pid int) (sigInfo, error) {
	var raw [128]byte // sizeof(siginfo_t)
	if err := ptracePtr(unix.PTRACE_GETSIGINFO, pid, 0, unsafe.Pointer(&raw[0])); err != nil {
		return sigInfo{}, err
	}
	return sigInfo{
		Signo: int32(binary.LittleEndian.Uint32(raw[0:])),
		Code:  int32(binary.LittleEndian.Uint32(raw[8:])),
		Addr:  binary.LittleEndian.Uint64(raw[16:]),
	}, nil
}

// getRegSet implements PTRACE_GETREGSET for note type nt into buf and
// returns how many bytes the kernel filled.
func getRegSet(pid int, nt int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	if err := ptracePtr(unix.PTRACE_GETREGSET, pid, uintptr(nt), unsafe.Pointer(&iov)); err != nil {
		return 0, err
	}
	return int(iov.Len), nil
}

// setRegSet implements PTRACE_SETREGSET for note type nt from buf.
func setRegSet(pid int, nt int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	return ptracePtr(unix.PTRACE_SETREGSET, pid, uintptr(nt), unsafe.Pointer(&iov))
}

// getcpu returns the CPU the calling thread runs on (getcpu(2)).
func getcpu() (int, error) {
	var cpu uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(cpu), nil
}
