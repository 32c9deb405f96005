package ipc

import "fmt"

// fdChunk is the body of a MsgFDChunk message.
type fdChunk struct {
	Index int // position of the first descriptor of this chunk in the set
	Total int
}

// SendFDs sends any number of descriptors as consecutive MsgFDChunk
// messages of at most MaxFDsPerMessage each. An empty set sends one empty
// chunk so the receiver always reads at least one message.
func (c *Conn) SendFDs(fds []int) error {
	if len(fds) == 0 {
		return c.Send(MsgFDChunk, fdChunk{0, 0})
	}
	for i := 0; i < len(fds); i += MaxFDsPerMessage {
		end := min(i+MaxFDsPerMessage, len(fds))
		if err := c.Send(MsgFDChunk, fdChunk{i, len(fds)}, fds[i:end]...); err != nil {
			return err
		}
	}
	return nil
}

// SendWithFDs sends message t with body v and the descriptor set fds:
// attached to the message itself when they fit in one (1 to
// MaxFDsPerMessage of them, a fork's usual set), else in MsgFDChunk
// messages after it (SendFDs): one send and one receive where the image
// and its descriptors took two of each.
// The receiver takes the message's own descriptors, or, when it came
// with none, collects them with RecvFDs.
func (c *Conn) SendWithFDs(t Type, v any, fds []int) error {
	if len(fds) >= 1 && len(fds) <= MaxFDsPerMessage {
		return c.Send(t, v, fds...)
	}
	if err := c.Send(t, v); err != nil {
		return err
	}
	return c.SendFDs(fds)
}

// RecvFDs receives a set sent by SendFDs. On error it closes every
// descriptor received so far.
func (c *Conn) RecvFDs() ([]int, error) {
	var all []int
	for {
		var ch fdChunk
		fds, err := c.Expect(MsgFDChunk, &ch)
		if err != nil {
			closeAll(all)
			return nil, err
		}
		if ch.Index != len(all) || ch.Total < ch.Index+len(fds) {
			closeAll(all)
			closeAll(fds)
			return nil, fmt.Errorf("ipc: descriptor chunk at %d of %d after %d received", ch.Index, ch.Total, len(all))
		}
		all = append(all, fds...)
		if len(all) == ch.Total {
			return all, nil
		}
		if len(fds) == 0 {
			closeAll(all)
			return nil, fmt.Errorf("ipc: empty descriptor chunk before %d of %d", len(all), ch.Total)
		}
	}
}
