package hvf

import (
	"reflect"
	"testing"
)

// TestGuestOf: host ranges a scan reports map back to the guest addresses
// of the pieces they fall in, split where pieces end.
func TestGuestOf(t *testing.T) {
	pieces := []HostPiece{
		{Guest: 0x10000, Host: 0x7f0000000000, N: 0x3000},
		{Guest: 0x13000, Host: 0x7f1000000000, N: 0x2000}, // next chunk
		{Guest: 0x40000, Host: 0x7f0000003000, N: 0x1000}, // host-adjacent to the first
	}
	got := guestOf(pieces, []WriteRange{
		{Start: 0x7f0000001000, End: 0x7f0000004000}, // the first's end and the third
		{Start: 0x7f1000001000, End: 0x7f1000002000},
	})
	want := []WriteRange{{Start: 0x11000, End: 0x13000}, {Start: 0x40000, End: 0x41000}, {Start: 0x14000, End: 0x15000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
