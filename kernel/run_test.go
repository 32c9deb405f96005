package kernel

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// kickCPU counts kicks.
type kickCPU struct {
	procTestCPU
	kicks atomic.Int32
}

func (c *kickCPU) Kick() { c.kicks.Add(1) }

func TestWatchdogKicksOnlyAVCPUWithoutExits(t *testing.T) {
	const timeout = 60 * time.Millisecond
	for _, tc := range []struct {
		name      string
		busy      bool // exits keep coming
		wantKicks bool
	}{
		{"a guest spinning without exits is kicked", false, true},
		{"a guest making syscalls is left alone", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			cpu := &kickCPU{}
			e.t.CPU = cpu
			var exits atomic.Uint64
			var expired atomic.Bool
			stop := e.t.watchdog(timeout, &exits, &expired)
			start := time.Now()
			for time.Since(start) < 4*timeout {
				if tc.busy {
					exits.Add(1)
					runtime.Gosched()
				} else {
					time.Sleep(time.Millisecond)
				}
			}
			stop()
			got := cpu.kicks.Load() > 0
			if got != tc.wantKicks || expired.Load() != tc.wantKicks {
				t.Errorf("kicks %d, expired %v; want kicked %v", cpu.kicks.Load(), expired.Load(), tc.wantKicks)
			}
			n := cpu.kicks.Load()
			time.Sleep(2 * timeout)
			if cpu.kicks.Load() != n {
				t.Errorf("the watchdog kicked after stop")
			}
		})
	}
}

func TestDenseTableMirrorsTheSyscallTable(t *testing.T) {
	for nr := uint64(0); nr < maxDense; nr++ {
		s, ok := table[nr]
		d, dok := lookup(nr)
		if ok != dok || (ok && (d.Name != s.Name || d.Fn == nil)) {
			t.Errorf("nr %d: table has %q (%v), dense has %q (%v)", nr, s.Name, ok, d.Name, dok)
		}
	}
	if _, ok := lookup(maxDense + 5); ok {
		t.Errorf("a number above every syscall was found")
	}
}

func TestUnknownSyscallIsReportedOnce(t *testing.T) {
	for _, nr := range []uint64{1017, 1<<41 + 3} {
		if !firstUnknown(nr) {
			t.Errorf("nr %d: first report suppressed", nr)
		}
		if firstUnknown(nr) {
			t.Errorf("nr %d: reported twice", nr)
		}
	}
}
