package kernel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// batchingMachine is a fakeMachine that is also an hvf.Batcher, counting
// batches and the calls made outside them.
type batchingMachine struct {
	*fakeMachine
	batches, ops int
	// unbatched counts Map, Protect and Unmap calls made directly.
	unbatched int
	// failAt, when >= 0, makes the op at that index of the next batch
	// fail (the ops before it run).
	failAt int
}

func newBatchingMachine() *batchingMachine {
	return &batchingMachine{fakeMachine: &fakeMachine{}, failAt: -1}
}

func (b *batchingMachine) Map(addr, length uint64, prot hvf.Prot, fd int, off int64) error {
	b.unbatched++
	return b.fakeMachine.Map(addr, length, prot, fd, off)
}

func (b *batchingMachine) Protect(addr, length uint64, prot hvf.Prot) error {
	b.unbatched++
	return b.fakeMachine.Protect(addr, length, prot)
}

func (b *batchingMachine) Unmap(addr, length uint64) error {
	b.unbatched++
	return b.fakeMachine.Unmap(addr, length)
}

func (b *batchingMachine) Apply(ops []hvf.MapOp) (int, error) {
	b.batches++
	b.ops += len(ops)
	for i, op := range ops {
		if i == b.failAt {
			b.failAt = -1
			return i, fmt.Errorf("batching machine: injected failure of op %d: %w", i, unix.ENOMEM)
		}
		if err := op.On(b.fakeMachine); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

func (b *batchingMachine) reset() { b.batches, b.ops, b.unbatched = 0, 0, 0 }

type batchingBackend struct{ last *batchingMachine }

func (b *batchingBackend) Name() string { return "batching fake" }
func (b *batchingBackend) NewMachine(cfg hvf.Config) (hvf.Machine, error) {
	b.last = newBatchingMachine()
	return b.last, nil
}

// forkParent builds an address space with private, shared, file and
// PROT_NONE regions and returns its snapshot.
func forkParent(t *testing.T) (*MM, *Snapshot) {
	t.Helper()
	parent, _ := newTestMM(t)
	f := tempFileWith(t, 4*pg)
	mustMmap(t, parent, 0x1000000, 4*pg, rw, anon|abi.MAP_FIXED)
	fill(t, parent, 0x1000000, pg, 0x11)
	mustMmap(t, parent, 0x2000000, 2*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS|abi.MAP_FIXED)
	if _, err := parent.Mmap(0x3000000, 2*pg, abi.PROT_READ, abi.MAP_PRIVATE|abi.MAP_FIXED, f, 0); err != nil {
		t.Fatal(err)
	}
	mustMmap(t, parent, 0x4000000, pg, abi.PROT_NONE, anon|abi.MAP_FIXED)
	mustMmap(t, parent, 0x5000000, 3*pg, abi.PROT_READ|abi.PROT_EXEC, anon|abi.MAP_FIXED)
	snap, err := parent.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(snap.RAM) })
	return parent, snap
}

func tempFileWith(t *testing.T, size int) int {
	t.Helper()
	fd, err := unix.MemfdCreate("batch-test-file", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestForkRebuildsTheMachineInOneBatch(t *testing.T) {
	parent, snap := forkParent(t)
	ram, _ := unix.FcntlInt(uintptr(snap.RAM), unix.F_DUPFD_CLOEXEC, 0)
	bm := newBatchingMachine()
	child, err := NewMMFromSnapshot(bm, testLimit, &Snapshot{RAM: ram, Regions: snap.Regions})
	if err != nil {
		unix.Close(ram)
		t.Fatal(err)
	}
	defer child.Close()
	if bm.batches != 1 || bm.unbatched != 0 {
		t.Errorf("rebuild made %d batches and %d single calls, want one batch", bm.batches, bm.unbatched)
	}
	var mapped int
	for _, mi := range parent.Maps() {
		if mi.Prot != 0 {
			mapped++
		}
	}
	if bm.ops != mapped {
		t.Errorf("the batch has %d ops, want one per mapped region (%d)", bm.ops, mapped)
	}
	checkMachine(t, child, bm.fakeMachine)
	expectBytes(t, child, 0x1000000, []byte{0x11})
}

func TestForkBatchFailureUndoesTheMachine(t *testing.T) {
	_, snap := forkParent(t)
	for failAt := range 4 {
		bm := newBatchingMachine()
		bm.failAt = failAt
		child, err := NewMMFromSnapshot(bm, testLimit, snap)
		if err == nil {
			child.Close()
			t.Fatalf("failAt %d: rebuild succeeded", failAt)
		}
		if !errors.Is(err, abi.ENOMEM) {
			t.Errorf("failAt %d: error %v, want ENOMEM", failAt, err)
		}
		if len(bm.maps) != 0 {
			t.Errorf("failAt %d: the machine still maps %+v after a failed rebuild", failAt, bm.maps)
		}
		if _, err := unix.FcntlInt(uintptr(snap.RAM), unix.F_GETFD, 0); err != nil {
			t.Fatalf("failAt %d: a failed rebuild closed the caller's RAM memfd", failAt)
		}
	}
}

func TestExecTearsDownAndLoadsInOneBatch(t *testing.T) {
	hello := buildC(t, "-static-pie")
	bb := &batchingBackend{}
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: bb}
	task, err := k.StartProcess(buildC(t, "-static"), []string{"first"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Proc.MM.Close() })
	bm := bb.last
	if bm.batches != 1 || bm.unbatched != 0 {
		t.Errorf("process start made %d batches and %d single calls, want one batch", bm.batches, bm.unbatched)
	}
	mustMmap(t, task.Proc.MM, 0, 4*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS)
	x, err := OpenExecutable(hello)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	bm.reset()
	if _, err := task.Proc.Exec(x, []string{"second"}, nil); err != nil {
		t.Fatal(err)
	}
	if bm.batches != 1 || bm.unbatched != 0 {
		t.Errorf("exec made %d batches and %d single calls, want one batch", bm.batches, bm.unbatched)
	}
	checkMachine(t, task.Proc.MM, bm.fakeMachine)
	if task.Proc.MM.machine != hvf.Machine(bm) {
		t.Error("the new image does not use the real machine after exec")
	}
	// Later calls go to the machine directly.
	bm.reset()
	mustMmap(t, task.Proc.MM, 0, pg, rw, anon)
	if bm.unbatched != 1 {
		t.Errorf("an mmap after exec made %d direct calls, want 1", bm.unbatched)
	}
}
