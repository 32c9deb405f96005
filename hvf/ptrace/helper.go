package ptrace

// The stub's helper thread: batches run without stopping the guest.
//
// In notify mode a guest mmap, brk or munmap is served while the stub's
// thread waits in its notification. Its Machine operations used to halt
// that thread first (a SIGURG and its stop, GETREGS), run the batch gadget
// in it (SETREGS, a continue, the int3's stop, GETREGS) and resume it from
// the stop: ~40-50 µs against ~6 for the round trip itself. The helper is a
// second stub thread that runs the same batch table on request: the tracer
// writes the table, bumps a sequence word in the in-area and wakes it with
// a futex; it runs the entries, stores their results and the batch's end in
// the out-area, publishes the sequence there and wakes the tracer. The
// guest's thread stays in its notification and is answered as usual.
//
// Containment. The helper's code (helperCode) keeps everything in
// registers and reads its requests from the in-area, which the stub maps
// read-only; it has no stack and blocks every signal. It is cloned before
// the seccomp filter is installed, which applies to the installing thread
// only, so its own syscalls pass unfiltered, while the guest's thread
// jumping to the same instructions makes a notification like any other
// syscall (the filter allows only the gadgets' sites, int3s while the
// guest runs). It is never traced: the clone does not ask for it. It is
// used only while the stub has no other thread (notify mode, or SYSEMU
// after a fault), so no guest code runs during a batch: the results and
// the done word in the out-area, which guest code can write between
// batches, are the helper's when the tracer reads them. A stub whose
// guest made threads stops the guest's thread as before.
//
// Only calls that act on the whole process qualify (helperCall): a call
// on the calling thread's own state (prctl, a timer) must run in the
// guest's thread.

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// helperOn says whether stubs get a helper thread (ELFUSE_PTRACE_HELPER=0
// in elfuse's environment turns it off, for comparisons).
var helperOn = os.Getenv("ELFUSE_PTRACE_HELPER") != "0"

// helperCode is the helper thread's code; the leader runs its first
// instruction, with RAX SYS_clone, to make it:
//
//	    syscall                  ; clone(stubCloneFlags, 0, 0, 0, 0)
//	    test rax, rax
//	    jz 1f
//	    int3                     ; the leader (or an error) stops here
//	1:  rt_sigprocmask(SIG_SETMASK, helperSigset, NULL, 8)
//	    xor r15d, r15d           ; the last sequence served
//	2:  futex(helperReq, FUTEX_WAIT, r15d, NULL)
//	    mov eax, [helperReq]
//	    cmp eax, r15d
//	    je 2b
//	    mov r15d, eax
//	    mov rbp, [helperReq+8]   ; entries
//	    mov r12, [helperReq+16]  ; stop at the first error
//	    rbx = batchTable, r13 = r14 = batchResults, rax = 0
//	3:  the batch gadget's loop (stub.go), to 4 when done
//	4:  mov [helperDone+8], rbx  ; past the last entry run
//	    mov [helperDone+16], rax ; the last result
//	    mov [helperDone], r15d   ; the batch is over
//	    futex(helperDone, FUTEX_WAKE, 1)
//	    jmp 2b
var helperCode = []byte{
	0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0x01, 0xcc, 0xb8, 0x0e, 0x00, 0x00,
	0x00, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x48, 0xbe, 0x18, 0x18, 0x00, 0x00,
	0x00, 0x50, 0x00, 0x00, 0x31, 0xd2, 0x41, 0xba, 0x08, 0x00, 0x00, 0x00,
	0x0f, 0x05, 0x45, 0x31, 0xff, 0xb8, 0xca, 0x00, 0x00, 0x00, 0x48, 0xbf,
	0x00, 0x18, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x31, 0xf6, 0x44, 0x89,
	0xfa, 0x45, 0x31, 0xd2, 0x0f, 0x05, 0x48, 0xbf, 0x00, 0x18, 0x00, 0x00,
	0x00, 0x50, 0x00, 0x00, 0x8b, 0x07, 0x44, 0x39, 0xf8, 0x74, 0xd6, 0x41,
	0x89, 0xc7, 0x48, 0x8b, 0x6f, 0x08, 0x4c, 0x8b, 0x67, 0x10, 0x48, 0xbb,
	0x00, 0x20, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x49, 0xbd, 0x00, 0x50,
	0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x4d, 0x89, 0xee, 0x31, 0xc0, 0x48,
	0x85, 0xed, 0x74, 0x77, 0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08, 0x48,
	0x8b, 0x73, 0x10, 0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20, 0x4c,
	0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30, 0x48, 0x8b, 0x4b, 0x38, 0x48,
	0x85, 0xc9, 0x74, 0x36, 0x49, 0x89, 0xcb, 0x49, 0xc1, 0xeb, 0x08, 0x4f,
	0x8b, 0x5c, 0xdd, 0x00, 0x80, 0xf9, 0x01, 0x49, 0x0f, 0x44, 0xfb, 0x80,
	0xf9, 0x02, 0x49, 0x0f, 0x44, 0xf3, 0x80, 0xf9, 0x03, 0x49, 0x0f, 0x44,
	0xd3, 0x80, 0xf9, 0x04, 0x4d, 0x0f, 0x44, 0xd3, 0x80, 0xf9, 0x05, 0x4d,
	0x0f, 0x44, 0xc3, 0x80, 0xf9, 0x06, 0x4d, 0x0f, 0x44, 0xcb, 0x0f, 0x05,
	0x49, 0x89, 0x06, 0x49, 0x83, 0xc6, 0x08, 0x48, 0x83, 0xc3, 0x40, 0x48,
	0xff, 0xcd, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x72, 0x89, 0x4d, 0x85,
	0xe4, 0x74, 0x84, 0x48, 0xbf, 0x00, 0x58, 0x00, 0x00, 0x00, 0x50, 0x00,
	0x00, 0x48, 0x89, 0x5f, 0x08, 0x48, 0x89, 0x47, 0x10, 0x44, 0x89, 0x3f,
	0xb8, 0xca, 0x00, 0x00, 0x00, 0xbe, 0x01, 0x00, 0x00, 0x00, 0xba, 0x01,
	0x00, 0x00, 0x00, 0x0f, 0x05, 0xe9, 0x0b, 0xff, 0xff, 0xff,
}

// helperSites are the offsets in the stub's code page of the helper's
// syscall instructions: never allowed by the filter, never disarmed.
var helperSites = []uint64{
	helperOff, helperOff + 0x24, helperOff + 0x40, helperOff + 0xd6, helperOff + 0x117,
}

const (
	helperOff  = 0x300
	helperAddr = stubBase + helperOff
	// helperTrapRIP is RIP after the leader's int3 has trapped.
	helperTrapRIP = helperAddr + 8

	// helperReq, in the in-area: the sequence word (32 bits) the
	// tracer bumps, the number of entries, the stop-at-error flag;
	// helperSigset the signal set the helper blocks (all ones).
	helperReq    = scratchAddr + 0x800
	helperSigset = helperReq + 0x18
	// helperDone, in the out-area: the sequence of the last batch
	// served (32 bits), RBX and RAX at its end.
	helperDone = outAddr + 0x800
)

// helperCall says whether a batch may have the helper make syscall nr:
// one that acts on the process (its mappings and descriptors), not on the
// thread that makes it.
func helperCall(nr uint64) bool {
	switch nr {
	case unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE,
		unix.SYS_OPENAT, unix.SYS_CLOSE, unix.SYS_CLOSE_RANGE, unix.SYS_RECVMSG:
		return true
	}
	return false
}

// helperWaitSlice is how long the tracer sleeps on the done word before it
// looks whether the stub is still alive.
const helperWaitSlice = 10 * time.Millisecond

// helperState is the stub's helper thread (the leader's).
type helperState struct {
	tid int    // 0: none
	seq uint32 // the last sequence posted
}

// startHelper clones the helper thread from the stopped leader. It must
// run after shareData (the helper waits on the shared in-area) and before
// the seccomp filter is installed. Without a helper (an error, or
// ELFUSE_PTRACE_HELPER=0) batches stop the guest's thread as before.
func (m *machine) startHelper() {
	if !helperOn || m.data == nil {
		return
	}
	ones := make([]byte, 8)
	for i := range ones {
		ones[i] = 0xff
	}
	copy(m.dataAt(helperSigset, 8), ones)
	clear(m.dataAt(helperReq, 0x18))
	clear(m.dataAt(helperDone, 0x18))
	r := m.host
	r.Rip = helperAddr
	r.Rax = unix.SYS_CLONE
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8 = stubCloneFlags, 0, 0, 0, 0
	r.Orig_rax = ^uint64(0)
	if err := m.runGadget(&r, helperTrapRIP, "start the stub's helper thread"); err != nil {
		m.log.Debug("no helper thread", "error", err)
		return
	}
	if failed(r.Rax) {
		m.log.Debug("no helper thread", "error", errnoOf(r.Rax))
		return
	}
	m.hp.tid = int(r.Rax)
}

// helperUsable says whether a batch of ents may run in the helper now.
func (m *machine) helperUsable(ents []batchEntry) bool {
	if m.hp.tid == 0 || m.leader != nil || m.pending != nil || m.nf.deferred != nil ||
		m.nf.threaded || m.threads.n.Load() != 0 {
		return false
	}
	for i := range ents {
		if !helperCall(ents[i].nr) {
			return false
		}
	}
	return true
}

// helperBatch runs ents in the helper thread, as runBatch does with the
// batch gadget, without stopping the guest's thread.
func (m *machine) helperBatch(ents []batchEntry, strs []byte, stopOnError bool) (int, error) {
	le := binary.LittleEndian
	if len(strs) > 0 {
		copy(m.dataAt(batchStrings, len(strs)), strs)
	}
	encodeBatch(m.dataAt(batchTable, len(ents)*batchEntrySize), ents)
	req := m.dataAt(helperReq, 0x18)
	done := m.dataAt(helperDone, 0x18)
	le.PutUint64(req[8:], uint64(len(ents)))
	stop := uint64(0)
	if stopOnError {
		stop = 1
	}
	le.PutUint64(req[16:], stop)
	seq := m.hp.seq + 1
	m.hp.seq = seq
	// Guest code may have written the done word since the last batch;
	// none runs until this one is over.
	storeWord(done, seq-1)
	storeWord(req, seq)
	futexWake(req)
	m.gadgetRuns++
	for loadWord(done) != seq {
		if futexWait(done, seq-1, helperWaitSlice) == unix.ETIMEDOUT && !m.stubAlive() {
			return 0, fmt.Errorf("ptrace: batch of %d syscalls in the helper thread: the stub is gone", len(ents))
		}
	}
	rbx := le.Uint64(done[8:])
	ran := 0
	if rbx >= batchTable && rbx <= batchTable+uint64(len(ents))*batchEntrySize {
		ran = int((rbx - batchTable) / batchEntrySize)
	}
	res := m.dataAt(batchResults, ran*8)
	for i := range ran {
		ents[i].ret = le.Uint64(res[i*8:])
	}
	return ran, nil
}

// stubAlive says whether the stub's process still runs: its pidfd is not
// readable yet.
func (m *machine) stubAlive() bool {
	m.mu.Lock()
	fd := m.pidfd
	m.mu.Unlock()
	if fd < 0 {
		return !m.exited.Load()
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err != nil || n == 0
}

// placeHelper gives the helper thread the stub's CPU placement
// (affinity.go): woken on the tracer's CPU, it runs a batch in the time
// slice the tracer gives up waiting for it.
func (m *machine) placeHelper(set *unix.CPUSet) {
	if m.hp.tid != 0 {
		unix.SchedSetaffinity(m.hp.tid, set)
	}
}
