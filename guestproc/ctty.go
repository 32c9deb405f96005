package guestproc

import "github.com/elfuse/elfuse/ipc"

// Ctty implements kernel.CttyHost.
func (h *host) Ctty() (own bool, dev uint64, err error) {
	r, err := h.call(ipc.Request{Op: ipc.OpCtty})
	return r.Self, r.Gen, err
}
