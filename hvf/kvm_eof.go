package hvf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pages of a file mapping past the end of the file. A guest access to one
// faults on the host side of KVM (the host window's page has no backing),
// and KVM_RUN fails with EFAULT without saying where: no exit the kernel
// could turn into the guest's SIGBUS. So on that EFAULT the machine looks
// for such pages (the host's own maps and the files' sizes), makes them
// not present in the guest page tables and runs the vCPU again: the guest
// then takes a #PF at the address, and the kernel, finding it inside a
// mapping that allows the access, delivers SIGBUS BUS_ADRERR, as Linux
// does. The host window keeps the file mapped, so the kernel's own copies
// from there fail with EFAULT as before. A file that grows later stays
// unreachable at those pages until they are mapped again.

// dropPastEOF makes every guest page backed by a file past its end not
// present and reports whether it found any.
func (m *kvmMachine) dropPastEOF() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false, err
	}
	var inv spans
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		start, end, off, ok := fileMapping(sc.Bytes())
		if !ok {
			continue
		}
		if _, c := m.chunkOf(start); c == nil {
			continue
		}
		var st unix.Stat_t
		name := fmt.Sprintf("/proc/self/map_files/%x-%x", start, end)
		if unix.Stat(name, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		fileEnd := (uint64(st.Size) + pageSize - 1) &^ (pageSize - 1)
		if fileEnd >= off+uint64(end-start) {
			continue
		}
		from := start
		if fileEnd > off {
			from = start + uintptr(fileEnd-off)
		}
		// A line may span chunks that lie next to each other.
		for h := from; h < end; {
			idx, c := m.chunkOf(h)
			if c == nil {
				break
			}
			e := min(end, c.host+chunkSize)
			guest := idx<<chunkShift + uint64(h-c.host)
			if err := m.pt.set(guest, guest+uint64(e-h), 0, 0, &inv); err != nil {
				return false, err
			}
			found, h = true, e
		}
	}
	if !found {
		return false, nil
	}
	return true, m.invalidate(inv)
}

// chunkOf returns the chunk whose host range holds host address h.
// Preconditions: m.mu held.
func (m *kvmMachine) chunkOf(h uintptr) (uint64, *chunk) {
	for idx, c := range m.chunks {
		if h >= c.host && h < c.host+chunkSize {
			return idx, c
		}
	}
	return 0, nil
}

// fileMapping parses a line of /proc/PID/maps: the range and file offset
// of a mapping of a file (inode not 0).
func fileMapping(line []byte) (start, end uintptr, off uint64, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[4]) == "0" {
		return 0, 0, 0, false
	}
	dash := bytes.IndexByte(f[0], '-')
	if dash < 0 {
		return 0, 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(f[0][:dash]), 16, 64)
	e, err2 := strconv.ParseUint(string(f[0][dash+1:]), 16, 64)
	o, err3 := strconv.ParseUint(string(f[2]), 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || e <= s {
		return 0, 0, 0, false
	}
	return uintptr(s), uintptr(e), o, true
}
