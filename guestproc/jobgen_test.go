package guestproc

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// TestTTYCacheFollowsGeneration: a remembered "go ahead" serves the same
// question only while the generation stands still, and never without the
// page.
func TestTTYCacheFollowsGeneration(t *testing.T) {
	saved := jobGenMem
	defer func() { jobGenMem = saved }()

	var c ttyCache
	jobGenMem = nil
	if _, hit, ok := c.lookup(abi.SIGTTIN, false); hit || ok {
		t.Fatal("without the page the cache answered")
	}

	jobGenMem = make([]byte, 8)
	gen, hit, ok := c.lookup(abi.SIGTTIN, false)
	if hit || !ok {
		t.Fatalf("empty cache: hit %v ok %v", hit, ok)
	}
	c.remember(gen, abi.SIGTTIN, false)
	if _, hit, _ := c.lookup(abi.SIGTTIN, false); !hit {
		t.Fatal("same question, same generation: not served")
	}
	if _, hit, _ := c.lookup(abi.SIGTTOU, false); hit {
		t.Fatal("a write check was served by a read verdict")
	}
	if _, hit, _ := c.lookup(abi.SIGTTIN, true); hit {
		t.Fatal("a verdict for an unignored signal served an ignored one")
	}
	jobGenMem[0]++ // the supervisor bumps
	if _, hit, _ := c.lookup(abi.SIGTTIN, false); hit {
		t.Fatal("served after the generation moved")
	}
}
