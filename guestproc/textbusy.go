package guestproc

import (
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
)

// textReport holds the image files of a process that has not told the
// supervisor it started yet (the first message must be Started).
type textReport struct {
	mu      sync.Mutex
	started bool
	pending *ipc.Request
}

// SetImage implements kernel.TextHost: one-way, ordered before any later
// request of this process (the supervisor reads a socket in order).
func (h *host) SetImage(files []kernel.FileID) {
	req := ipc.Request{Op: ipc.OpImage}
	for _, f := range files {
		req.Files = append(req.Files, [2]uint64{f.Dev, f.Ino})
	}
	h.text.mu.Lock()
	defer h.text.mu.Unlock()
	if !h.text.started {
		h.text.pending = &req
		return
	}
	h.send(req)
}

// markStarted sends the image held back until Started was sent.
func (h *host) markStarted() {
	h.text.mu.Lock()
	defer h.text.mu.Unlock()
	h.text.started = true
	if h.text.pending != nil {
		h.send(*h.text.pending)
		h.text.pending = nil
	}
}

// TextBusy implements kernel.TextHost. A failed call says "not busy": the
// write goes ahead as it did before ETXTBSY was known.
func (h *host) TextBusy(file kernel.FileID) bool {
	r, err := h.call(ipc.Request{Op: ipc.OpTextBusy, Files: [][2]uint64{{file.Dev, file.Ino}}})
	return err == nil && r.Self
}
