package ptrace

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// Map implements hvf.Machine.Map: the stub maps the same descriptor
// MAP_SHARED|MAP_FIXED at addr.
func (m *machine) Map(addr, length uint64, prot hvf.Prot, fd int, off int64) error {
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	if off < 0 || off%pageSize != 0 {
		return fmt.Errorf("ptrace: map %#x: offset %#x is not page aligned: %w", addr, off, unix.EINVAL)
	}
	sfd, err := m.stubFile(fd)
	if err != nil {
		return fmt.Errorf("ptrace: map %#x+%#x: %w", addr, length, err)
	}
	got, err := m.inject(unix.SYS_MMAP, addr, length, hostProt(prot),
		unix.MAP_SHARED|unix.MAP_FIXED, uint64(sfd), uint64(off))
	if err != nil {
		return fmt.Errorf("ptrace: map %#x+%#x fd %d off %#x: %w", addr, length, fd, off, err)
	}
	if got != addr {
		return fmt.Errorf("ptrace: map %#x+%#x: stub mapped at %#x", addr, length, got)
	}
	if m.log.IsTrace() {
		m.log.Trace("map", "addr", fmt.Sprintf("%#x", addr), "len", length, "prot", prot, "fd", fd, "off", off)
	}
	return nil
}

// Protect implements hvf.Machine.Protect with an injected mprotect.
func (m *machine) Protect(addr, length uint64, prot hvf.Prot) error {
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	if _, err := m.inject(unix.SYS_MPROTECT, addr, length, hostProt(prot)); err != nil {
		return fmt.Errorf("ptrace: protect %#x+%#x: %w", addr, length, err)
	}
	return nil
}

// Unmap implements hvf.Machine.Unmap with an injected munmap.
func (m *machine) Unmap(addr, length uint64) error {
	if err := m.checkThread(); err != nil {
		return err
	}
	if err := m.checkRange(addr, length); err != nil {
		return err
	}
	if _, err := m.inject(unix.SYS_MUNMAP, addr, length); err != nil {
		return fmt.Errorf("ptrace: unmap %#x+%#x: %w", addr, length, err)
	}
	return nil
}

// checkRange accepts only page-aligned, non-empty ranges below the limit,
// so that the guest can never replace the stub's own pages.
func (m *machine) checkRange(addr, length uint64) error {
	end := addr + length
	if addr%pageSize != 0 || length == 0 || length%pageSize != 0 || end < addr || end > m.limit {
		return fmt.Errorf("ptrace: bad guest range %#x+%#x (limit %#x): %w", addr, length, m.limit, unix.EINVAL)
	}
	return nil
}

func hostProt(p hvf.Prot) uint64 {
	var r uint64
	if p&hvf.ProtRead != 0 {
		r |= unix.PROT_READ
	}
	if p&hvf.ProtWrite != 0 {
		r |= unix.PROT_WRITE
	}
	if p&hvf.ProtExec != 0 {
		r |= unix.PROT_EXEC
	}
	return r
}

// inject runs one system call in the stub and returns its result; a
// result in [-4095, -1] is returned as the errno. The stub must be stopped.
// The stub's registers are restored before guest code runs again (Run writes
// m.host back because hostStale is set).
//
// Signals that stop the stub meanwhile (a Kick, a stray signal) are
// suppressed and remembered in interruptPending; a fault in the gadget is an
// error.
func (m *machine) inject(nr uint64, args ...uint64) (uint64, error) {
	var a [6]uint64
	copy(a[:], args)
	r := m.host
	r.Rip = gadgetAddr
	r.Rax = nr
	r.Orig_rax = ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := unix.PtraceSetRegs(m.pid, &r); err != nil {
		return 0, m.ptraceErr(fmt.Sprintf("inject syscall %d: set registers", nr), err)
	}
	m.hostStale = true
	if err := unix.PtraceCont(m.pid, 0); err != nil {
		return 0, fmt.Errorf("inject syscall %d: continue: %w", nr, err)
	}
	for {
		ws, err := m.wait()
		if err != nil {
			return 0, fmt.Errorf("inject syscall %d: %w", nr, err)
		}
		if ws.Stopped() && ws.StopSignal() == unix.SIGTRAP {
			if err := unix.PtraceGetRegs(m.pid, &r); err != nil {
				return 0, fmt.Errorf("inject syscall %d: get registers: %w", nr, err)
			}
			if r.Rip == gadgetTrapRIP {
				if ret := int64(r.Rax); ret < 0 && ret >= -4095 {
					return 0, unix.Errno(-ret)
				}
				return r.Rax, nil
			}
		} else if ws.Stopped() {
			if si, err := getSigInfo(m.pid); err == nil && si.Code > 0 && isFaultSignal(si.Signo) {
				return 0, fmt.Errorf("inject syscall %d: stub faulted: signal %d code %d addr %#x",
					nr, si.Signo, si.Code, si.Addr)
			}
		}
		m.interruptPending = true
		if err := unix.PtraceCont(m.pid, 0); err != nil {
			return 0, fmt.Errorf("inject syscall %d: continue: %w", nr, err)
		}
	}
}

func isFaultSignal(sig int32) bool {
	switch unix.Signal(sig) {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
		return true
	}
	return false
}

// writeScratch copies b into the stub's scratch page.
func (m *machine) writeScratch(b []byte) error {
	if len(b) > pageSize {
		return fmt.Errorf("scratch data too long (%d bytes)", len(b))
	}
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: scratchAddr, Len: len(b)}}
	n, err := unix.ProcessVMWritev(m.pid, local, remote, 0)
	if err == nil && n == len(b) {
		return nil
	}
	// process_vm_writev may be unavailable (seccomp, old kernel): poke.
	if _, err := unix.PtracePokeData(m.pid, scratchAddr, b); err != nil {
		return fmt.Errorf("write stub scratch page: %w", err)
	}
	return nil
}

// atFDCWD is AT_FDCWD as a syscall argument register.
var atFDCWD = ^uint64(0) - (-unix.AT_FDCWD - 1)

// fileKey identifies an open file for the stub-side descriptor cache.
type fileKey struct {
	dev, ino uint64
	accMode  int
}

// maxStubFiles bounds the descriptors the stub keeps open. A cached stub
// descriptor keeps its file alive after the caller closes its own, so the
// bound also bounds memory kept by files the caller has dropped.
const maxStubFiles = 16

// fileCache maps host files to descriptors opened in the stub, least
// recently used first in order.
type fileCache struct {
	fds   map[fileKey]int
	order []fileKey
}

func (c *fileCache) init() { c.fds = make(map[fileKey]int) }

func (c *fileCache) touch(k fileKey) {
	for i, o := range c.order {
		if o == k {
			copy(c.order[i:], c.order[i+1:])
			c.order[len(c.order)-1] = k
			return
		}
	}
}

// stubFile returns a descriptor in the stub for the same file as the
// caller's fd, opening it there (by an injected openat of
// /proc/<tracer pid>/fd/<fd>) when it is not cached.
func (m *machine) stubFile(fd int) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return -1, fmt.Errorf("fcntl fd %d: %w", fd, err)
	}
	k := fileKey{dev: st.Dev, ino: st.Ino, accMode: fl & unix.O_ACCMODE}
	if sfd, ok := m.files.fds[k]; ok {
		m.files.touch(k)
		return sfd, nil
	}
	if len(m.files.order) >= maxStubFiles {
		old := m.files.order[0]
		m.files.order = m.files.order[1:]
		oldfd := m.files.fds[old]
		delete(m.files.fds, old)
		if _, err := m.inject(unix.SYS_CLOSE, uint64(oldfd)); err != nil {
			return -1, fmt.Errorf("close stub fd %d: %w", oldfd, err)
		}
	}
	path := append([]byte("/proc/"+strconv.Itoa(m.tracerPid)+"/fd/"+strconv.Itoa(fd)), 0)
	if err := m.writeScratch(path); err != nil {
		return -1, err
	}
	ret, err := m.inject(unix.SYS_OPENAT, atFDCWD,
		scratchAddr, uint64(k.accMode|unix.O_CLOEXEC), 0)
	if err != nil {
		return -1, fmt.Errorf("stub openat %s: %w", path[:len(path)-1], err)
	}
	sfd := int(ret)
	m.files.fds[k] = sfd
	m.files.order = append(m.files.order, k)
	return sfd, nil
}

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end uint64
}

// parseMaps reads the address ranges of a /proc/PID/maps file.
func parseMaps(data []byte) ([]mapping, error) {
	var out []mapping
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		rng, _, _ := bytes.Cut(line, []byte(" "))
		lo, hi, ok := bytes.Cut(rng, []byte("-"))
		if !ok {
			return nil, fmt.Errorf("bad line %q", line)
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("bad range in line %q", line)
		}
		out = append(out, mapping{start, end})
	}
	return out, nil
}
