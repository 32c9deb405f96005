package kernel

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
)

const (
	robustHead   = testMemBase + 0x1000
	robustA      = testMemBase + 0x1100
	robustB      = testMemBase + 0x1200
	robustOffset = 0x20
)

func (e *procTestEnv) putU64(addr abi.Addr, v uint64) {
	binary.LittleEndian.PutUint64(e.bytesAt(addr, 8), v)
}

// robustList builds head -> A -> B -> head with the given futex words and
// list_op_pending, and registers it for the task.
func (e *procTestEnv) robustList(wordA, wordB uint32, pending abi.Addr) {
	e.putU64(robustHead, uint64(robustA))
	e.putU64(robustHead+8, robustOffset)
	e.putU64(robustHead+16, uint64(pending))
	e.putU64(robustA, uint64(robustB))
	e.putU64(robustB, uint64(robustHead))
	e.setWord(robustA+robustOffset, wordA)
	e.setWord(robustB+robustOffset, wordB)
	e.t.RobustList = robustHead
}

func TestRobustListMarksOwnedFutexesOwnerDied(t *testing.T) {
	const tid = 77
	tests := []struct {
		name         string
		wordA, wordB uint32
		pending      abi.Addr
		wantA, wantB uint32
	}{
		{"owned futex with waiters keeps the waiters bit", tid | abi.FUTEX_WAITERS, 5,
			0, abi.FUTEX_WAITERS | abi.FUTEX_OWNER_DIED, 5},
		{"owned futex without waiters", tid, tid, 0,
			abi.FUTEX_OWNER_DIED, abi.FUTEX_OWNER_DIED},
		{"futexes of other threads stay", 1234, 0, 0, 1234, 0},
		{"pending entry is handled once", tid, 9, robustA, abi.FUTEX_OWNER_DIED, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.t.Tid = tid
			e.robustList(tc.wordA, tc.wordB, tc.pending)
			e.t.exitRobustList()
			if a, b := e.word(robustA+robustOffset), e.word(robustB+robustOffset); a != tc.wantA || b != tc.wantB {
				t.Fatalf("words %#x %#x, want %#x %#x", a, b, tc.wantA, tc.wantB)
			}
		})
	}
}

func TestRobustListWakesAWaiterOfADeadOwner(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Tid = 77
	e.robustList(77|abi.FUTEX_WAITERS, 0, 0)
	res := waitInBackground(e, uint64(robustA+robustOffset), abi.FUTEX_WAIT, 77|abi.FUTEX_WAITERS)
	time.Sleep(20 * time.Millisecond)
	e.t.exitRobustList()
	select {
	case err := <-res:
		if err != nil && errnoOf(err) != abi.EAGAIN {
			t.Fatalf("waiter returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter of a dead owner's robust futex never woke")
	}
}

func TestRobustListWalkSurvivesBadLists(t *testing.T) {
	tests := []struct {
		name  string
		build func(e *procTestEnv)
	}{
		{"head not mapped", func(e *procTestEnv) { e.t.RobustList = testBadAddr }},
		{"entry not mapped", func(e *procTestEnv) {
			e.robustList(0, 0, 0)
			e.putU64(robustA, uint64(testBadAddr))
		}},
		{"cycle that never returns to the head", func(e *procTestEnv) {
			e.robustList(0, 0, 0)
			e.putU64(robustB, uint64(robustA))
		}},
		{"misaligned futex offset", func(e *procTestEnv) {
			e.robustList(0, 0, 0)
			e.putU64(robustHead+8, 3)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			tc.build(e)
			done := make(chan struct{})
			go func() { e.t.exitRobustList(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("robust list walk did not end")
			}
		})
	}
}

func TestExitGroupReleasesRobustFutexes(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Tid = 77
	e.robustList(77, 0, 0)
	if _, err := e.call(ExitGroup, 0); err != ErrNoReturn {
		t.Fatalf("exit_group: %v", err)
	}
	if got := e.word(robustA + robustOffset); got != abi.FUTEX_OWNER_DIED {
		t.Fatalf("word after exit_group = %#x, want FUTEX_OWNER_DIED", got)
	}
}
