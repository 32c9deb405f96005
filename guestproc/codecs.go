package guestproc

import (
	"encoding/json"
	"sync"

	"github.com/elfuse/elfuse/ipc"
)

// warmCodecs has encoding/json build its encoders and decoders for the
// messages a guestproc sends and receives, with every slice element type
// present. The first use of a type builds them by reflection (1.25 ms for
// the fork image, when it was JSON, against 60 µs after), on the fork's
// critical path. The fork image has its own binary form now. A spare
// does it while it waits; pid 1's guestproc in the background while its
// guest starts.
func warmCodecs() { codecsWarm.Do(buildCodecs) }

var codecsWarm sync.Once

func buildCodecs() {
	for _, v := range []any{&ipc.Request{Argv: []string{""}}, &ipc.Reply{}, &ipc.Start{Argv: []string{""}},
		&ipc.Exited{}, &ipc.Signal{}, &ipc.ChildEvent{}} {
		if b, err := json.Marshal(v); err == nil {
			json.Unmarshal(b, v)
		}
	}
}
