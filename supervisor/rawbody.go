package supervisor

import "encoding/json"

// rawBody holds a message body until its type is known.
type rawBody struct{ json.RawMessage }

func (r *rawBody) UnmarshalJSON(b []byte) error {
	r.RawMessage = append(r.RawMessage[:0], b...)
	return nil
}

func (r *rawBody) decode(v any) error { return json.Unmarshal(r.RawMessage, v) }
