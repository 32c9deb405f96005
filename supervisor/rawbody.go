package supervisor

import "github.com/elfuse/elfuse/ipc"

// rawBody holds a message body until its type is known.
type rawBody struct{ ipc.Raw }

func (r *rawBody) decode(v any) error { return r.Raw.Decode(v) }
