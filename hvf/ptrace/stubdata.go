package ptrace

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// The stub's data area: its in-area (scratch page, batch table, batch
// strings) and out-area (batch results, what injected calls fill in, the FP
// slots and area), stub.go has the layout.
//
// Guest code runs in the stub, and with several guest threads one of them
// runs while the tracer has another stub thread execute an injected call. If
// the guest could store into the in-area it could rewrite that call's path
// or its syscall number between the tracer's write and the call (an openat
// of a host path outside the sysroot, a syscall of its choosing executed for
// real). So right after exec the tracer lays a memfd over the data area: the
// in-area is mapped read-only in the stub and the out-area read-write, while
// the tracer keeps one writable mapping of the whole memfd and reads and
// writes the area through it, with plain copies instead of
// process_vm_writev. A guest store into the in-area faults, as a store to an
// unmapped address does natively.
//
// The out-area is writable by the guest, and the tracer trusts nothing it
// reads there beyond what the guest could do itself: the batch results feed
// only descriptors to later entries (batch.go), and every descriptor the stub
// holds is one its guest may map; the recvmsg structures only ever bring in
// a descriptor the tracer sent.

// dataSize is the size of the data area (in-area and out-area).
const dataSize = stubSize - pageSize

// shareData lays the memfd over the freshly started stub's data area and
// keeps the tracer's mapping of it in m.data. An error leaves the stub
// unusable: the caller closes it.
func (m *machine) shareData() error {
	fd, err := unix.MemfdCreate("elfuse-stub-data", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("ptrace: stub data: memfd_create: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, dataSize); err != nil {
		return fmt.Errorf("ptrace: stub data: ftruncate: %w", err)
	}
	b, err := unix.Mmap(fd, 0, dataSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("ptrace: stub data: mmap: %w", err)
	}
	// One call at a time: a batch's results would land partly on the
	// stub's old out-area and partly on the new one. The out-area first:
	// the stub's pages stay writable through process_vm_writev until
	// the in-area's turn has used its scratch path.
	maps := []struct {
		addr, size, prot uint64
		off              int64
		acc              int
	}{
		{outAddr, dataSize - inAreaSize, unix.PROT_READ | unix.PROT_WRITE, inAreaSize, unix.O_RDWR},
		{scratchAddr, inAreaSize, unix.PROT_READ, 0, unix.O_RDONLY},
	}
	for _, mp := range maps {
		sfd, err := m.openInStub(fd, mp.acc)
		if err != nil {
			unix.Munmap(b)
			return fmt.Errorf("ptrace: stub data: %w", err)
		}
		_, err = m.inject(unix.SYS_MMAP, mp.addr, mp.size, mp.prot, unix.MAP_SHARED|unix.MAP_FIXED, uint64(sfd), uint64(mp.off))
		m.inject(unix.SYS_CLOSE, uint64(sfd)) // the mapping holds the file
		if err != nil {
			unix.Munmap(b)
			return fmt.Errorf("ptrace: stub data: map %#x: %w", mp.addr, err)
		}
	}
	m.data = b
	return nil
}

// openInStub gives the stub a descriptor of the tracer's fd opened with
// access mode acc: an openat of /proc/<tracer>/fd/<fd>, or else fd itself
// passed over the socket (its own access mode).
func (m *machine) openInStub(fd, acc int) (int, error) {
	if !m.noProcReopen {
		path := "/proc/" + strconv.Itoa(m.tracerPid) + "/fd/" + strconv.Itoa(fd) + "\x00"
		if err := m.writeStub(scratchPath, []byte(path)); err != nil {
			return -1, err
		}
		if sfd, err := m.inject(unix.SYS_OPENAT, atFDCWD, scratchPath, uint64(acc|unix.O_CLOEXEC)); err == nil {
			return int(sfd), nil
		}
	}
	return m.passToStub(fd)
}

// closeData drops the tracer's mapping of the data area.
func (m *machine) closeData() {
	if m.data != nil {
		unix.Munmap(m.data)
		m.data = nil
	}
}

// dataAt returns the tracer's view of n bytes of the stub at addr, in the
// data area, or nil before shareData (the stub's own pages are then
// written and read with process_vm_writev and process_vm_readv).
func (m *machine) dataAt(addr uint64, n int) []byte {
	d := m.root().data
	if d == nil {
		return nil
	}
	off := addr - scratchAddr
	return d[off : off+uint64(n)]
}

// writeStub copies b into the stub's data area at addr.
func (m *machine) writeStub(addr uint64, b []byte) error {
	if err := m.sync(); err != nil {
		return err
	}
	if addr < scratchAddr || addr+uint64(len(b)) > stubBase+stubSize {
		return fmt.Errorf("write of %d bytes at %#x is outside the stub data area", len(b), addr)
	}
	if d := m.dataAt(addr, len(b)); d != nil {
		copy(d, b)
		return nil
	}
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	if n, err := unix.ProcessVMWritev(m.pid, local, remote, 0); err == nil && n == len(b) {
		return nil
	}
	// process_vm_writev may be unavailable (seccomp, old kernel): poke.
	if _, err := unix.PtracePokeData(m.pid, uintptr(addr), b); err != nil {
		return fmt.Errorf("write stub data area: %w", err)
	}
	return nil
}

// readStub copies the stub's data area at addr into b.
func (m *machine) readStub(addr uint64, b []byte) error {
	if err := m.sync(); err != nil {
		return err
	}
	if addr < scratchAddr || addr+uint64(len(b)) > stubBase+stubSize {
		return fmt.Errorf("read of %d bytes at %#x is outside the stub data area", len(b), addr)
	}
	if d := m.dataAt(addr, len(b)); d != nil {
		copy(b, d)
		return nil
	}
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	if n, err := unix.ProcessVMReadv(m.pid, local, remote, 0); err == nil && n == len(b) {
		return nil
	}
	if _, err := unix.PtracePeekData(m.pid, uintptr(addr), b); err != nil {
		return fmt.Errorf("read stub data area: %w", err)
	}
	return nil
}
