package guestproc

import (
	"sync/atomic"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// jobState is the guestproc's part of job control.
type jobState struct {
	// earlyCont is the newest SIGCONT sequence number that arrived
	// before the kernel process existed (it could not take it in).
	earlyCont atomic.Uint64
}

// StopSelf implements kernel.JobHost: the supervisor stops this host
// process (SIGSTOP) before it replies, so the call returns once the
// process has been continued.
func (h *host) StopSelf(sig int32, contSeq uint64) (bool, error) {
	r, err := h.call(ipc.Request{Op: ipc.OpStop, Sig: sig, Seq: max(contSeq, h.job.earlyCont.Load())})
	return r.Self, err
}

// continueSignal passes on a SIGCONT from the supervisor with its
// sequence number (kept for StopSelf when there is no process yet).
func (h *host) continueSignal(s ipc.Signal, info *abi.Siginfo) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		for {
			old := h.job.earlyCont.Load()
			if s.Seq <= old || h.job.earlyCont.CompareAndSwap(old, s.Seq) {
				return
			}
		}
	}
	p.ContinueFrom(info, s.Seq, s.Thread)
}
