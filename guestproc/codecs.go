package guestproc

import (
	"encoding/json"
	"sync"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
)

// warmCodecs has encoding/json build its encoders and decoders for the
// messages a guestproc sends and receives, with every slice element type
// present. The first use of a type builds them by reflection: 1.25 ms for
// a fork image against 60 µs after, on the fork's critical path. A spare
// does it while it waits; pid 1's guestproc in the background while its
// guest starts.
func warmCodecs() { codecsWarm.Do(buildCodecs) }

var codecsWarm sync.Once

func buildCodecs() {
	img := kernel.ForkImage{
		FP: []byte{0}, Argv: []string{""}, Envp: []string{""}, Auxv: []kernel.AuxEntry{{}},
		Regions: []kernel.MapInfo{{}}, FDs: []kernel.ForkFD{{}},
	}
	for _, v := range []any{&img, &ipc.Request{Argv: []string{""}}, &ipc.Reply{}, &ipc.Start{Argv: []string{""}},
		&ipc.Exited{}, &ipc.Signal{}, &ipc.ChildEvent{}} {
		if b, err := json.Marshal(v); err == nil {
			json.Unmarshal(b, v)
		}
	}
}
