package kernel

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// fileTestMem is a []byte-backed Memory for the file-syscall tests: guest
// addresses [base, base+len(buf)) are mapped read-write except [roStart,
// roEnd), which is read-only; everything else faults.
type fileTestMem struct {
	base           abi.Addr
	buf            []byte
	roStart, roEnd abi.Addr
	next           abi.Addr // bump allocator for alloc
}

const fileTestBase abi.Addr = 0x10000

func newFileTestMem(size int) *fileTestMem {
	return &fileTestMem{base: fileTestBase, buf: make([]byte, size), next: fileTestBase}
}

// accessible returns how many bytes from addr (up to n) may be accessed.
func (m *fileTestMem) accessible(addr abi.Addr, n int, write bool) int {
	end := m.base + abi.Addr(len(m.buf))
	if addr < m.base || addr >= end {
		return 0
	}
	ok := min(n, int(end-addr))
	if write && m.roStart < m.roEnd {
		switch {
		case addr >= m.roStart && addr < m.roEnd:
			return 0
		case addr < m.roStart && addr+abi.Addr(ok) > m.roStart:
			ok = int(m.roStart - addr)
		}
	}
	return ok
}

func (m *fileTestMem) CopyIn(addr abi.Addr, dst []byte) (int, error) {
	n := m.accessible(addr, len(dst), false)
	if n > 0 {
		copy(dst, m.buf[addr-m.base:][:n])
	}
	if n < len(dst) {
		return n, abi.EFAULT
	}
	return n, nil
}

func (m *fileTestMem) CopyOut(addr abi.Addr, src []byte) (int, error) {
	n := m.accessible(addr, len(src), true)
	if n > 0 {
		copy(m.buf[addr-m.base:], src[:n])
	}
	if n < len(src) {
		return n, abi.EFAULT
	}
	return n, nil
}

func (m *fileTestMem) CopyInString(addr abi.Addr, maxLen int) (string, error) {
	n := m.accessible(addr, maxLen+1, false)
	if n == 0 {
		return "", abi.EFAULT
	}
	b := m.buf[addr-m.base:][:n]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i]), nil
	}
	if n == maxLen+1 {
		return "", abi.ENAMETOOLONG
	}
	return "", abi.EFAULT
}

func (m *fileTestMem) Slice(addr abi.Addr, n int, write bool) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil
	}
	if m.accessible(addr, n, write) < n {
		return nil, abi.EFAULT
	}
	off := addr - m.base
	return m.buf[off : off+abi.Addr(n) : off+abi.Addr(n)], nil
}

// alloc reserves n bytes (8-byte aligned) and returns their address.
func (m *fileTestMem) alloc(n int) abi.Addr {
	a := m.next
	m.next += abi.Addr((n + 7) &^ 7)
	if int(m.next-m.base) > len(m.buf) {
		panic("fileTestMem: out of memory")
	}
	return a
}

// str stores a C string and returns its address.
func (m *fileTestMem) str(s string) abi.Addr {
	a := m.alloc(len(s) + 1)
	copy(m.buf[a-m.base:], s)
	m.buf[a-m.base+abi.Addr(len(s))] = 0
	return a
}

// bytesAt returns the n bytes at addr.
func (m *fileTestMem) bytesAt(addr abi.Addr, n int) []byte {
	return m.buf[addr-m.base:][:n]
}

func (m *fileTestMem) put(addr abi.Addr, b []byte) { copy(m.buf[addr-m.base:], b) }

func (m *fileTestMem) u32(addr abi.Addr) uint32 {
	return binary.LittleEndian.Uint32(m.bytesAt(addr, 4))
}

func (m *fileTestMem) u64(addr abi.Addr) uint64 {
	return binary.LittleEndian.Uint64(m.bytesAt(addr, 8))
}

// fileBadAddr is an address the fake never maps.
const fileBadAddr abi.Addr = 0xdead0000

// fileTestHost is the process tree as the file-syscall tests see it: one
// process, pid 1.
type fileTestHost struct{}

func (fileTestHost) Pid() int32                       { return 1 }
func (fileTestHost) Ppid() int32                      { return 0 }
func (fileTestHost) Exit(status uint32)               {}
func (fileTestHost) ReleaseVfork()                    {}
func (fileTestHost) Execed(exe string, argv []string) {}

// newFileTestTask returns a task whose process has a fresh descriptor
// table (guest 0-2 = the test binary's 0-2, never closed by the tests) and
// 1 MiB of fake memory.
func newFileTestTask(t *testing.T) (*Task, *fileTestMem) {
	t.Helper()
	mem := newFileTestMem(1 << 20)
	log := hclog.NewNullLogger()
	p := &Process{
		Kernel:  &Kernel{Config: Config{Log: log}, Host: fileTestHost{}},
		FDs:     NewFDTable(),
		Signals: NewSignalHandlers(),
		Mem:     mem,
		Exe:     "/opt/guest/bin/prog",
	}
	task := &Task{Proc: p, Log: log, Tid: 1, inSyscall: -1}
	t.Cleanup(func() { p.FDs.CloseRange(3, 1<<31-1) })
	return task, mem
}

// fileSys calls syscall nr through the table as the dispatcher would.
func fileSys(task *Task, nr uint64, args ...uint64) (uint64, error) {
	s, ok := table[nr]
	if !ok {
		panic("syscall not registered")
	}
	var a Args
	copy(a[:], args)
	return s.Fn(task, &a)
}

// fileErrnoOf returns the errno an error turns into at the syscall boundary
// (0 for nil).
func fileErrnoOf(err error) abi.Errno {
	if err == nil {
		return 0
	}
	return toErrno(err)
}

// mustSys fails the test unless the syscall succeeds.
func mustSys(t *testing.T, task *Task, nr uint64, args ...uint64) uint64 {
	t.Helper()
	v, err := fileSys(task, nr, args...)
	if err != nil {
		t.Fatalf("syscall %d%v: %v", nr, args, err)
	}
	return v
}

// wantErrno fails the test unless the syscall fails with want.
func wantErrno(t *testing.T, want abi.Errno, task *Task, nr uint64, args ...uint64) {
	t.Helper()
	v, err := fileSys(task, nr, args...)
	if got := fileErrnoOf(err); got != want {
		t.Fatalf("syscall %d%v = %d, %v (errno %d); want errno %d (%v)", nr, args, v, err, got, want, want)
	}
}

// fdArg encodes a guest descriptor (possibly AT_FDCWD) as a raw argument.
func fdArg(fd int32) uint64 { return uint64(int64(fd)) }

// writeHost writes s to a host descriptor (from a helper goroutine).
func writeHost(fd int, s string) {
	unix.Write(fd, []byte(s))
}
