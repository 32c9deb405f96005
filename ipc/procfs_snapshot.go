package ipc

import "encoding/json"

// /proc of a stopped process. A guest process stops as its guestproc is
// host-stopped (supervisor/jobctl.go), and a stopped guestproc cannot
// render its /proc for others: ls -l /proc/PID/fd, ps, lsof or a
// debugger's look at a stopped job found its descriptors, memory map,
// environment, limits and signal masks gone. So, as it stops, the process's
// files are rendered once by its own kernel and kept by the supervisor,
// which answers from them until the process continues: what Linux shows of
// a stopped process does not change while it is stopped, but for the
// signals sent to it meanwhile, which the supervisor adds to the pending
// sets it shows.
//
//	stopped by its own stop signal       stopped by another's SIGSTOP
//	G: ProcSnapshot →                    S: ProcQuery{Snapshot} → G
//	G: Request{OpStop} →                 G: ← ProcAnswer{Snapshot}
//	S: host SIGSTOP to G                 S: host SIGSTOP to G

// MsgProcSnapshot (G→S, no answer) carries the snapshot of the sender's
// /proc/<pid>, sent right before it asks to stop (OpStop); the supervisor
// keeps it if the stop happens.
const MsgProcSnapshot Type = 203

// ProcSnapshot is the body of MsgProcSnapshot and a Snapshot query's
// answer: nodes below /proc/<pid> by Rel ("" the directory itself), each
// as a ProcQuery for it would have been answered, and the process's
// Description for `elfuse dump`. Files that did not fit in one message are
// left out (the supervisor answers them from its record, as before).
type ProcSnapshot struct {
	Nodes       []ProcSnapNode
	Description *Description `json:",omitempty"`
}

// ProcSnapNode is one node of a ProcSnapshot.
type ProcSnapNode struct {
	Rel  string
	Node ProcAnswer
}

// ProcSnapshotBudget bounds the file contents of one snapshot, well under
// the largest message once in base64.
const ProcSnapshotBudget = 384 << 10

// Fit trims s until it fits in one message with room to spare for the
// answer around it: the last nodes first (the largest files come last),
// then the Description. A message over the limit would be cut at the
// receiver, which takes that for a broken connection.
func (s *ProcSnapshot) Fit() {
	const limit = maxMessage - 4096
	size := func(v any) int {
		b, err := json.Marshal(v)
		if err != nil {
			return limit + 1
		}
		return len(b) + 1 // a comma
	}
	used := 64 // the object's own keys and brackets
	if s.Description != nil {
		if d := size(s.Description); d < limit/2 {
			used += d
		} else {
			s.Description = nil
		}
	}
	for i, n := range s.Nodes {
		if used += size(n); used > limit {
			s.Nodes = s.Nodes[:i]
			return
		}
	}
}
