package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestMapsTextLooksLikeLinux(t *testing.T) {
	m, _ := newTestMM(t)
	path := filepath.Join(t.TempDir(), "lib.so")
	os.WriteFile(path, make([]byte, 3*pg), 0o644)
	f, _ := os.Open(path)
	defer f.Close()
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	mustMmap(t, m, 0x400000, pg, abi.PROT_READ|abi.PROT_EXEC, anon|abi.MAP_FIXED)
	if _, err := m.Mmap(0x7f00000000, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE|abi.MAP_FIXED, int(f.Fd()), pg); err != nil {
		t.Fatal(err)
	}
	m.SetBrkStart(0x600000)
	m.SetBrk(0x600000 + 10)
	lines := strings.Split(strings.TrimSuffix(m.MapsText(), "\n"), "\n")
	want := []string{
		"00400000-00401000 r-xp 00000000 00:00 0 ",
		"00600000-00601000 rw-p 00000000 00:00 0                                  [heap]",
		"7f00000000-7f00002000 r--p 00001000 " + hexDev(st.Dev) + " " + itoa(st.Ino),
	}
	if len(lines) != 3 || lines[0] != want[0] || lines[1] != want[1] || !strings.HasPrefix(lines[2], want[2]) ||
		!strings.HasSuffix(lines[2], " "+path) || len(lines[2]) < 73 {
		t.Fatalf("maps:\n%s\nwant lines like:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	u := m.Usage()
	// The read-only file mapping reads the file itself: like Linux's
	// RssAnon, Resident does not count it.
	if u.Virtual != 4*pg || u.Resident != 0 {
		t.Fatalf("usage %+v, want 4 pages mapped and none of them private and resident", u)
	}
}

func hexDev(d uint64) string {
	const x = "0123456789abcdef"
	two := func(v uint32) string { return string([]byte{x[v>>4&15], x[v&15]}) }
	return two(unix.Major(d)) + ":" + two(unix.Minor(d))
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}
