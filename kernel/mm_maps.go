package kernel

import (
	"fmt"
	"strings"

	"github.com/elfuse/elfuse/hvf"
	"golang.org/x/sys/unix"
)

// String formats mi as one line of /proc/PID/maps, as Linux's
// show_map_vma does (without the newline).
func (mi MapInfo) String() string {
	perm := []byte("---p")
	if mi.Prot&hvf.ProtRead != 0 {
		perm[0] = 'r'
	}
	if mi.Prot&hvf.ProtWrite != 0 {
		perm[1] = 'w'
	}
	if mi.Prot&hvf.ProtExec != 0 {
		perm[2] = 'x'
	}
	if mi.Shared {
		perm[3] = 's'
	}
	var off, ino uint64
	var major, minor uint32
	if mi.Fd >= 0 {
		off, ino = mi.Offset, mi.Inode
		major, minor = unix.Major(mi.Dev), unix.Minor(mi.Dev)
	}
	line := fmt.Sprintf("%08x-%08x %s %08x %02x:%02x %d ", uint64(mi.Start), uint64(mi.End), perm, off, major, minor, ino)
	if mi.Name == "" {
		return line
	}
	// seq_pad: spaces up to column 72, then one more.
	if pad := 72 - len(line); pad > 0 {
		line += strings.Repeat(" ", pad)
	}
	return line + " " + mi.Name
}

// MapsText returns the text of /proc/PID/maps for this address space.
func (m *MM) MapsText() string {
	var b strings.Builder
	for _, mi := range m.Maps() {
		b.WriteString(mi.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Usage is an address space's size, for /proc/PID/status and getrusage.
type Usage struct {
	// Virtual is the total size of the mappings (VmSize).
	Virtual uint64
	// Resident is the private memory in use (RssAnon: populated pages of
	// the RAM memfd; shared and file pages are not counted).
	Resident uint64
}

// Usage reports the address space's size.
func (m *MM) Usage() Usage {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var u Usage
	for i := range m.vmas {
		u.Virtual += uint64(m.vmas[i].end - m.vmas[i].start)
	}
	var st unix.Stat_t
	if m.window != nil && !m.borrowed && unix.Fstat(m.ramfd, &st) == nil {
		u.Resident = uint64(st.Blocks) * 512
	}
	return u
}
