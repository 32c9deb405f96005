package hvf

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

const rw, ro = unix.PROT_READ | unix.PROT_WRITE, unix.PROT_READ

func TestRegionSetOperations(t *testing.T) {
	type op struct {
		insert     bool
		start, end uint64
		prot       int
	}
	tests := []struct {
		name string
		ops  []op
		want []region
	}{
		{"insert merges equal neighbours", []op{{true, 0, 10, rw}, {true, 10, 20, rw}}, []region{{0, 20, rw}}},
		{"different prot stays split", []op{{true, 0, 10, rw}, {true, 10, 20, ro}}, []region{{0, 10, rw}, {10, 20, ro}}},
		{"insert replaces the middle", []op{{true, 0, 30, rw}, {true, 10, 20, ro}}, []region{{0, 10, rw}, {10, 20, ro}, {20, 30, rw}}},
		{"remove splits", []op{{true, 0, 30, rw}, {false, 10, 20, 0}}, []region{{0, 10, rw}, {20, 30, rw}}},
		{"remove spanning several", []op{{true, 0, 10, rw}, {true, 20, 30, ro}, {true, 40, 50, rw}, {false, 5, 45, 0}}, []region{{0, 5, rw}, {45, 50, rw}}},
		{"reinsert heals a hole", []op{{true, 0, 30, rw}, {false, 10, 20, 0}, {true, 10, 20, rw}}, []region{{0, 30, rw}}},
	}
	for _, tc := range tests {
		var s regionSet
		for _, o := range tc.ops {
			if o.insert {
				s.insert(o.start, o.end, o.prot)
			} else {
				s.remove(o.start, o.end)
			}
		}
		if !reflect.DeepEqual(s.rs, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, s.rs, tc.want)
		}
	}
}

func TestRegionOverlapAndCover(t *testing.T) {
	var s regionSet
	s.insert(0x1000, 0x3000, rw)
	s.insert(0x3000, 0x4000, ro)
	s.insert(0x6000, 0x8000, rw)
	if got := s.overlap(0x2000, 0x7000); !reflect.DeepEqual(got, []region{{0x2000, 0x3000, rw}, {0x3000, 0x4000, ro}, {0x6000, 0x7000, rw}}) {
		t.Errorf("overlap %v", got)
	}
	tests := []struct {
		start, end uint64
		want       bool
	}{
		{0x1000, 0x4000, true},
		{0x1000, 0x5000, false},
		{0x0, 0x2000, false},
		{0x6000, 0x8000, true},
		{0x5000, 0x6000, false},
	}
	for _, tc := range tests {
		if got := s.covers(tc.start, tc.end); got != tc.want {
			t.Errorf("covers(%#x, %#x) = %v", tc.start, tc.end, got)
		}
	}
}
