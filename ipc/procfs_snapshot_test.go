package ipc

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestProcSnapshotFitKeepsWhatFits(t *testing.T) {
	small := &ProcSnapshot{Nodes: []ProcSnapNode{{Rel: "comm", Node: ProcAnswer{Data: []byte("sh\n")}}},
		Description: &Description{Exe: "/bin/sh"}}
	small.Fit()
	if len(small.Nodes) != 1 || small.Description == nil {
		t.Errorf("a small snapshot was trimmed: %+v", small)
	}
	// 3 000 nodes of 400 bytes: about 1.6 MB once in base64, too much for
	// one message; the first ones stay, in order.
	big := &ProcSnapshot{Description: &Description{Exe: "/bin/big"}}
	for i := range 3000 {
		big.Nodes = append(big.Nodes, ProcSnapNode{Rel: "fdinfo/" + strconv.Itoa(i), Node: ProcAnswer{Data: make([]byte, 400)}})
	}
	big.Fit()
	b, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxMessage-4096 || len(big.Nodes) < 1000 || big.Nodes[0].Rel != "fdinfo/0" || big.Description == nil {
		t.Errorf("fitted to %d bytes with %d nodes (first %q), description %v", len(b), len(big.Nodes), big.Nodes[0].Rel, big.Description != nil)
	}
}
