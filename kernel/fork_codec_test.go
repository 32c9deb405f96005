package kernel

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// fillDistinct sets every settable field reachable from v to a non-zero
// value that differs from field to field (slices get two elements, a nil
// pointer a new value), so that a field the codec forgets comes back zero.
func fillDistinct(v reflect.Value, n *uint64) {
	*n++
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(*n % 200)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillDistinct(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fillDistinct(v.Index(i), n)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillDistinct(p.Elem(), n)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillDistinct(v.Field(i), n)
			}
		}
	default:
		panic("fillDistinct: unhandled kind " + v.Kind().String())
	}
}

// fullForkImage is a current-version image with every field set.
func fullForkImage() ForkImage {
	var img ForkImage
	var n uint64
	fillDistinct(reflect.ValueOf(&img).Elem(), &n)
	img.Version = ForkImageVersion
	return img
}

// TestForkImageCodecCoversEveryField: every field of a fork image, set,
// survives the binary form (a field added to ForkImage or to a type in it
// without the codec knowing fails here).
func TestForkImageCodecCoversEveryField(t *testing.T) {
	img := fullForkImage()
	b, err := img.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back ForkImage
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img, back) {
		want, _ := json.Marshal(img)
		got, _ := json.Marshal(back)
		t.Fatalf("round trip differs:\nwant %s\n got %s", want, got)
	}
}

// TestForkImageCodecKeepsNil: absent optional parts stay absent.
func TestForkImageCodecKeepsNil(t *testing.T) {
	img := ForkImage{Version: ForkImageVersion, Notify: -1, Cwd: -1, Argv: []string{}}
	b, _ := img.MarshalBinary()
	var back ForkImage
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if back.Sched != nil || back.FP != nil || back.Envp != nil || back.Argv == nil || back.Notify != -1 || back.Cwd != -1 {
		t.Fatalf("got %+v", back)
	}
}

// TestForkImageCodecRejectsBadInput: every truncation of a valid image,
// trailing bytes, another version and absurd counts are errors, never a
// panic or a huge allocation.
func TestForkImageCodecRejectsBadInput(t *testing.T) {
	img := fullForkImage()
	b, _ := img.MarshalBinary()
	for i := 0; i < len(b); i++ {
		var back ForkImage
		if err := back.UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(b))
		}
	}
	var back ForkImage
	if err := back.UnmarshalBinary(append(b[:len(b):len(b)], 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	other := img
	other.Version = ForkImageVersion + 1
	ob, _ := other.MarshalBinary()
	if err := back.UnmarshalBinary(ob); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("other version: %v, want EINVAL", err)
	}
	// A count of 2^31 regions in a short message.
	w := imageWriter{}
	w.int(ForkImageVersion)
	w.bool(false)
	w.int(-1)
	for i := 0; i < 20; i++ {
		w.u64(0)
	}
	w.u32(0x7fffffff) // FP length
	if err := back.UnmarshalBinary(w.b); err == nil {
		t.Fatal("absurd length accepted")
	}
}

func BenchmarkForkImageDecode(b *testing.B) {
	img := fullForkImage()
	img.FP = make([]byte, 2688)
	data, _ := img.MarshalBinary()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var back ForkImage
		if err := back.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
