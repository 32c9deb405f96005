package ipc

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/elfuse/elfuse/kernel/abi"
)

// The binary form of the messages that travel on every fork, exit and
// wait (messages_wire.go): fields in declaration order, integers as
// varints, strings and byte slices with their length first. A slice's
// length is stored plus one, so that 0 keeps a nil slice nil. JSON, with
// its reflection and the validation pass of a raw body, was ~8% of a fork
// loop's CPU samples across the three processes that handle a fork's ten
// messages.
//
// Both ends are the same binary, so the form has no version: a field
// added to a message must be added to its MarshalBinary and
// UnmarshalBinary (TestWireRoundTrip fills every field and fails
// otherwise).

// wireEnc appends a message's fields.
type wireEnc struct{ b []byte }

func (e *wireEnc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *wireEnc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *wireEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *wireEnc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// count stores a slice's length, 0 for nil.
func (e *wireEnc) count(n int, isNil bool) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(uint64(n) + 1)
}

func (e *wireEnc) bytes(v []byte) {
	e.count(len(v), v == nil)
	e.b = append(e.b, v...)
}

func (e *wireEnc) strs(v []string) {
	e.count(len(v), v == nil)
	for _, s := range v {
		e.str(s)
	}
}

func (e *wireEnc) int32s(v []int32) {
	e.count(len(v), v == nil)
	for _, x := range v {
		e.int(int64(x))
	}
}

func (e *wireEnc) rusage(r *abi.Rusage) {
	e.int(r.Utime.Sec)
	e.int(r.Utime.Usec)
	e.int(r.Stime.Sec)
	e.int(r.Stime.Usec)
	for _, v := range [...]int64{r.Maxrss, r.Ixrss, r.Idrss, r.Isrss, r.Minflt, r.Majflt, r.Nswap,
		r.Inblock, r.Oublock, r.Msgsnd, r.Msgrcv, r.Nsignals, r.Nvcsw, r.Nivcsw} {
		e.int(v)
	}
}

// wireDec reads a message's fields back; the first malformed field sets
// err and every later read returns zero.
type wireDec struct {
	b   []byte
	err error
}

var errWire = errors.New("ipc: malformed binary message")

func (d *wireDec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errWire
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errWire
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDec) int32() int32 { return int32(d.int()) }

func (d *wireDec) bool() bool { return d.uint() != 0 }

// take returns the next n bytes (not copied).
func (d *wireDec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errWire
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *wireDec) str() string { return string(d.take(d.uint())) }

// count reads a slice's length; nil reports a nil slice. A length larger
// than the bytes left (each element takes one at least) is malformed.
func (d *wireDec) count() (n int, isNil bool) {
	c := d.uint()
	if c == 0 || d.err != nil {
		return 0, true
	}
	if c-1 > uint64(len(d.b)) {
		d.err = errWire
		return 0, true
	}
	return int(c - 1), false
}

func (d *wireDec) bytes() []byte {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	return append([]byte{}, d.take(uint64(n))...)
}

func (d *wireDec) strs() []string {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *wireDec) int32s() []int32 {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = d.int32()
	}
	return v
}

func (d *wireDec) rusage(r *abi.Rusage) {
	r.Utime.Sec, r.Utime.Usec = d.int(), d.int()
	r.Stime.Sec, r.Stime.Usec = d.int(), d.int()
	for _, p := range [...]*int64{&r.Maxrss, &r.Ixrss, &r.Idrss, &r.Isrss, &r.Minflt, &r.Majflt, &r.Nswap,
		&r.Inblock, &r.Oublock, &r.Msgsnd, &r.Msgrcv, &r.Nsignals, &r.Nvcsw, &r.Nivcsw} {
		*p = d.int()
	}
}

// done reports the first error, or trailing bytes.
func (d *wireDec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errWire
	}
	return d.err
}

// Raw is a message body received before its type is known (a reader that
// handles several types); Decode decodes it once the type says into what.
type Raw []byte

// UnmarshalBinary keeps a copy of the body: Recv's buffer is reused.
func (r *Raw) UnmarshalBinary(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// Decode decodes the body into v, in v's binary form when it has one (the
// sender used it too), else as JSON.
func (r Raw) Decode(v any) error {
	if u, ok := v.(encoding.BinaryUnmarshaler); ok {
		return u.UnmarshalBinary(r)
	}
	return json.Unmarshal(r, v)
}
