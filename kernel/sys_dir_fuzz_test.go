package kernel

import (
	"encoding/binary"
	"testing"
)

// FuzzDirentsFrom64 checks that converting host records for getdents(2)
// never panics on any buffer and keeps every record's length.
func FuzzDirentsFrom64(f *testing.F) {
	rec := make([]byte, 24)
	binary.LittleEndian.PutUint16(rec[16:], 24)
	rec[18] = 8
	copy(rec[19:], "ab\x00")
	f.Add(rec)
	f.Add([]byte{})
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, buf []byte) {
		orig := append([]byte(nil), buf...)
		if err := direntsFrom64(buf); err != nil {
			return
		}
		for off := 0; off < len(buf); {
			reclen := int(binary.LittleEndian.Uint16(buf[off+16:]))
			if reclen != int(binary.LittleEndian.Uint16(orig[off+16:])) {
				t.Fatalf("record at %d changed length", off)
			}
			if buf[off+reclen-1] != orig[off+18] {
				t.Fatalf("record at %d: d_type not moved to its last byte", off)
			}
			off += reclen
		}
	})
}
