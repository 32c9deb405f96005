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
	// files of an execve's new image, sent with its OpExeced (Execed):
	// one message per execve instead of two.
	execFiles [][2]uint64
}

// SetImage implements kernel.TextHost: one-way, ordered before any later
// request of this process (the supervisor reads a socket in order); an
// execve's goes with its OpExeced.
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
	// A started process sets its image only in execve, which tells the
	// supervisor right after (Execed) and takes the files along.
	h.text.execFiles = req.Files
}

// takeExecFiles returns the files SetImage left for Execed.
func (h *host) takeExecFiles() [][2]uint64 {
	h.text.mu.Lock()
	defer h.text.mu.Unlock()
	f := h.text.execFiles
	h.text.execFiles = nil
	return f
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
