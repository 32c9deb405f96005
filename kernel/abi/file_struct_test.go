package abi

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
)

// fileStruct is what every ABI structure of the file syscalls provides.
type fileStruct interface {
	SizeBytes() int
	MarshalBytes(dst []byte)
	UnmarshalBytes(src []byte)
}

// fileStructs lists each structure with its size on x86-64 Linux (from
// the kernel headers / pahole).
var fileStructs = []struct {
	name      string
	new       func() fileStruct
	linuxSize int
}{
	{"timespec", func() fileStruct { return new(Timespec) }, 16},
	{"timeval", func() fileStruct { return new(Timeval) }, 16},
	{"iovec", func() fileStruct { return new(Iovec) }, 16},
	{"stat", func() fileStruct { return new(Stat) }, 144},
	{"statx", func() fileStruct { return new(Statx) }, 256},
	{"statfs", func() fileStruct { return new(Statfs) }, 120},
	{"pollfd", func() fileStruct { return new(PollFD) }, 8},
	{"epoll_event (packed)", func() fileStruct { return new(EpollEvent) }, 12},
	{"flock", func() fileStruct { return new(Flock) }, 32},
	{"open_how", func() fileStruct { return new(OpenHow) }, 24},
	{"utimbuf", func() fileStruct { return new(Utimbuf) }, 16},
	{"termios (kernel)", func() fileStruct { return new(Termios) }, 36},
	{"winsize", func() fileStruct { return new(Winsize) }, 8},
}

func TestFileStructsHaveLinuxSizes(t *testing.T) {
	for _, tc := range fileStructs {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.new()
			if got := v.SizeBytes(); got != tc.linuxSize {
				t.Errorf("SizeBytes() = %d, want %d", got, tc.linuxSize)
			}
			// encoding/binary lays fields out without implicit padding, so
			// this checks that the explicit padding is complete.
			if got := binary.Size(v); got != tc.linuxSize {
				t.Errorf("binary.Size = %d, want %d", got, tc.linuxSize)
			}
		})
	}
}

func TestFileStructsMarshalLikeTheirFieldLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range fileStructs {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				raw := make([]byte, tc.linuxSize)
				for i := range raw {
					raw[i] = byte(rng.Uint32())
				}
				want := tc.new()
				if _, err := binary.Decode(raw, binary.LittleEndian, want); err != nil {
					t.Fatal(err)
				}
				ref := make([]byte, tc.linuxSize)
				if _, err := binary.Encode(ref, binary.LittleEndian, want); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, tc.linuxSize)
				for i := range got {
					got[i] = 0xAA // padding must be written as zero
				}
				want.MarshalBytes(got)
				if !bytes.Equal(got, ref) {
					t.Fatalf("MarshalBytes:\n got %x\nwant %x", got, ref)
				}
				back := tc.new()
				back.UnmarshalBytes(raw)
				if !reflect.DeepEqual(back, want) {
					t.Fatalf("UnmarshalBytes = %+v, want %+v", back, want)
				}
			}
		})
	}
}
