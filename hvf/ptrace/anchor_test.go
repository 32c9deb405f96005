package ptrace

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
)

// stubMapLine returns the stub's /proc/PID/maps line for the page at addr
// ("" if nothing is mapped there).
func stubMapLine(t *testing.T, m *machine, addr uint64) string {
	t.Helper()
	data, err := readFile(fmt.Sprintf("/proc/%d/maps", m.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var s, e uint64
		if _, err := fmt.Sscanf(string(line), "%x-%x", &s, &e); err == nil && s <= addr && addr < e {
			return string(line)
		}
	}
	return ""
}

// isAnchor reports whether a maps line is an anchor: one anonymous
// PROT_NONE page.
func isAnchor(line string, addr uint64) bool {
	var s, e uint64
	f := strings.Fields(line)
	if len(f) < 5 {
		return false
	}
	if _, err := fmt.Sscanf(f[0], "%x-%x", &s, &e); err != nil {
		return false
	}
	return s == addr && e == addr+pageSize && f[1] == "---p" && f[4] == "0"
}

// TestAnchorsSurviveRecycle: the top anchor stands after setup and after a
// Recycle, which unmaps everything else.
func TestAnchorsSurviveRecycle(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05})
	top := g.m.limit - pageSize
	if !g.m.anchorsUp || !slices.Contains(g.m.anchors, top) {
		t.Fatalf("anchors %#x (up %v), want the top page %#x among them", g.m.anchors, g.m.anchorsUp, top)
	}
	if err := g.m.Recycle(); err != nil {
		t.Fatal(err)
	}
	if err := g.m.sync(); err != nil {
		t.Fatal(err)
	}
	for _, a := range g.m.anchors {
		if line := stubMapLine(t, g.m, a); !isAnchor(line, a) {
			t.Fatalf("anchor at %#x after Recycle: %q", a, line)
		}
	}
}

// TestRecycleClearsAGuestMappingOverTheAnchor: a guest mapping over the
// top anchor does not outlive its process: Recycle unmaps it and places
// the anchor again, so the next process cannot read the old memory.
func TestRecycleClearsAGuestMappingOverTheAnchor(t *testing.T) {
	g := newGuest(t, []byte{0x0f, 0x05})
	top := g.m.limit - pageSize
	if err := g.m.Map(top, pageSize, hvf.ProtRead, g.fd, codeAddr); err != nil {
		t.Fatal(err)
	}
	if line := stubMapLine(t, g.m, top); isAnchor(line, top) {
		t.Fatalf("the guest's mapping did not replace the anchor: %q", line)
	}
	if err := g.m.Recycle(); err != nil {
		t.Fatal(err)
	}
	if err := g.m.sync(); err != nil {
		t.Fatal(err)
	}
	if line := stubMapLine(t, g.m, top); !isAnchor(line, top) {
		t.Fatalf("after Recycle the top page is %q, want the anchor again", line)
	}
	if !g.m.anchorsUp || g.m.anchorsLost {
		t.Fatalf("anchors up %v lost %v after Recycle", g.m.anchorsUp, g.m.anchorsLost)
	}
}
