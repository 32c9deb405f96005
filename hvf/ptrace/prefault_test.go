package ptrace

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
)

// stubRss returns the resident size in KiB of the stub mapping starting at
// addr, from /proc/PID/smaps.
func stubRss(t *testing.T, pid int, addr uint64) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := fmt.Sprintf("%08x-", addr)
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "-") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = strings.HasPrefix(line, want)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no mapping at %#x in the stub's smaps", addr)
	return 0
}

// TestPrefaultHintPopulatesAfterMaps: a hinted range is resident in the stub
// after the Apply that maps it, an unhinted one is not, and a hint on an
// unmapped range fails nothing.
func TestPrefaultHintPopulatesAfterMaps(t *testing.T) {
	g := newGuest(t, nil)
	const n = 4
	hinted, plain := uint64(extraAddr), uint64(extraAddr+(n+1)*pageSize)
	for i := range 2 * (n + 1) * pageSize {
		g.mem[extraAddr+i] = 1 // the memfd's pages exist; the stub has not touched them
	}
	ops := []hvf.MapOp{
		{Kind: hvf.OpMap, Addr: hinted, Len: n * pageSize, Prot: hvf.ProtRead | hvf.ProtWrite, Fd: g.fd, Off: int64(hinted)},
		{Kind: hvf.OpMap, Addr: plain, Len: n * pageSize, Prot: hvf.ProtRead | hvf.ProtWrite, Fd: g.fd, Off: int64(plain)},
	}
	g.m.PrefaultHint(hinted+10, n*pageSize-20, true)
	g.m.PrefaultHint(1<<40, pageSize, false) // nothing mapped there
	if done, err := g.m.Apply(ops); err != nil || done != len(ops) {
		t.Fatalf("Apply = %d, %v; want %d, nil", done, err, len(ops))
	}
	if got := stubRss(t, g.m.pid, hinted); got != n*pageSize/1024 {
		t.Errorf("hinted mapping: Rss %d KiB, want %d", got, n*pageSize/1024)
	}
	if got := stubRss(t, g.m.pid, plain); got != 0 {
		t.Errorf("mapping without a hint: Rss %d KiB, want 0", got)
	}
	if len(g.m.prefault) != 0 {
		t.Errorf("hints left after Apply: %v", g.m.prefault)
	}
	// Hints do not outlive the Apply they were given for, nor go past
	// the bound.
	g.m.PrefaultHint(plain, (maxPrefaultPages+1)*pageSize, true)
	if len(g.m.prefault) != 0 {
		t.Errorf("a hint over %d pages was kept", maxPrefaultPages)
	}
}
