package kernel

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// copyInStrings reads by page (guestPage): strings and pointer arrays
// that cross page boundaries, strings in other mappings and faults come
// out as they did string by string.
func TestCopyInStringsAcrossPages(t *testing.T) {
	task, m := newMMTask(t)
	base := mustMmap(t, m, 0x1000000, 3*pg, rw, anon|abi.MAP_FIXED)
	other := mustMmap(t, m, 0x3000000, pg, rw, anon|abi.MAP_FIXED)
	put := func(at abi.Addr, b []byte) {
		t.Helper()
		if _, err := m.CopyOut(at, b); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("x", 300)
	want := []string{"first", long, "across", "", "elsewhere"}
	at := []abi.Addr{base + 100, base + 200, base + 2*pg - 3, base + 2*pg + 10, other + 5}
	for i, s := range want {
		put(at[i], append([]byte(s), 0))
	}
	// The pointer array itself crosses from the first page into the second.
	arr := base + pg - 16
	var b []byte
	for _, a := range append(at, 0) {
		b = binary.LittleEndian.AppendUint64(b, uint64(a))
	}
	put(arr, b)
	got, err := task.copyInStrings(arr, 1<<20)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("copyInStrings = %q, %v; want %q", got, err, want)
	}

	// A pointer to unmapped memory, and an array running into it.
	put(arr+8, binary.LittleEndian.AppendUint64(nil, 0x5000000))
	if _, err := task.copyInStrings(arr, 1<<20); !errors.Is(err, abi.EFAULT) {
		t.Fatalf("a string pointer to unmapped memory: %v, want EFAULT", err)
	}
	end := base + 3*pg - 8
	put(end, binary.LittleEndian.AppendUint64(nil, uint64(at[0])))
	if _, err := task.copyInStrings(end, 1<<20); !errors.Is(err, abi.EFAULT) {
		t.Fatalf("an array running off the mapping: %v, want EFAULT", err)
	}
	// The limit still counts every string.
	if _, err := task.copyInStrings(arr+16, 10); !errors.Is(err, abi.E2BIG) {
		t.Fatalf("over the limit: %v, want E2BIG", err)
	}
}
