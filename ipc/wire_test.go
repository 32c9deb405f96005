package ipc

import (
	"encoding"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
)

// wireMessages are the bodies with a binary form, as pointers to zero
// values.
func wireMessages() []any {
	return []any{&Request{}, &Reply{}, &Signal{}, &ChildEvent{}, &Exited{}, &ExecFailed{}, &Start{},
		&Reparent{}, &Assign{}, &fdChunk{}}
}

// TestWireRoundTrip fills every field of every binary message with random
// values (nil and empty slices, nil pointers included) and checks that
// decoding the encoding gives the value back: a field left out of a
// MarshalBinary or UnmarshalBinary fails it.
func TestWireRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for _, m := range wireMessages() {
		typ := reflect.TypeOf(m).Elem()
		for i := 0; i < 300; i++ {
			v, ok := quick.Value(typ, rnd)
			if !ok {
				t.Fatalf("%v: no random value", typ)
			}
			in := v.Interface()
			b, err := in.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatalf("%v: %v", typ, err)
			}
			out := reflect.New(typ)
			if err := out.Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
				t.Fatalf("%v: decode: %v", typ, err)
			}
			if !reflect.DeepEqual(in, out.Elem().Interface()) {
				t.Fatalf("%v: round trip\n in: %#v\nout: %#v", typ, in, out.Elem().Interface())
			}
			// A truncated body is an error, never a panic.
			if len(b) > 0 {
				cut := reflect.New(typ).Interface().(encoding.BinaryUnmarshaler)
				if err := cut.UnmarshalBinary(b[:rnd.Intn(len(b))]); err == nil {
					t.Fatalf("%v: truncated body decoded without error", typ)
				}
			}
		}
	}
}

// TestWireNilAndEmpty: a nil slice stays nil and an empty one empty, as
// JSON kept them apart.
func TestWireNilAndEmpty(t *testing.T) {
	for _, in := range []Request{{}, {Info: []byte{}, Argv: []string{}, Files: [][2]uint64{}}} {
		b, _ := in.MarshalBinary()
		var out Request
		if err := out.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if (out.Info == nil) != (in.Info == nil) || (out.Argv == nil) != (in.Argv == nil) || (out.Files == nil) != (in.Files == nil) {
			t.Fatalf("nil-ness lost: in %#v out %#v", in, out)
		}
	}
}

// TestWireOverConn: a message with a binary form crosses a Conn in it, and
// Raw decodes it as the typed receiver would, as it does a JSON body.
func TestWireOverConn(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	ev := ChildEvent{Pid: 7, Exited: true, Zombie: &ZombieReport{Status: 3 << 8, Code: 1},
		Signal: &Signal{Sig: 17, Info: make([]byte, 128)}}
	if err := a.Send(MsgChildEvent, ev); err != nil {
		t.Fatal(err)
	}
	var raw Raw
	if typ, _, err := b.Recv(&raw); err != nil || typ != MsgChildEvent {
		t.Fatalf("recv: %d %v", typ, err)
	}
	var got ChildEvent
	if err := raw.Decode(&got); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("got %#v (%v), want %#v", got, err, ev)
	}
	// A body without a binary form still goes as JSON.
	if err := a.Send(MsgDescribe, Describe{ID: 9}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Recv(&raw); err != nil {
		t.Fatal(err)
	}
	var d Describe
	if err := raw.Decode(&d); err != nil || d.ID != 9 {
		t.Fatalf("got %#v (%v)", d, err)
	}
}
