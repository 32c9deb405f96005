package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// FuzzForEachCmsg feeds arbitrary guest control buffers to the parser that
// sendmsg runs before the host sees them: it must never panic, and every
// message it yields must lie inside the buffer, header first.
func FuzzForEachCmsg(f *testing.F) {
	rights := make([]byte, 24)
	(&abi.Cmsghdr{Len: 20, Level: abi.SOL_SOCKET, Type: abi.SCM_RIGHTS}).MarshalBytes(rights)
	f.Add(rights)
	two := append(append([]byte{}, rights...), rights...)
	f.Add(two)
	huge := make([]byte, 16)
	(&abi.Cmsghdr{Len: 1<<64 - 1, Level: abi.SOL_SOCKET, Type: abi.SCM_RIGHTS}).MarshalBytes(huge)
	f.Add(huge)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		forEachCmsg(b, func(h abi.Cmsghdr, data []byte) error {
			if h.Len < abi.SizeofCmsghdr || h.Len > uint64(len(b)) {
				t.Fatalf("yielded a message of length %d from %d bytes", h.Len, len(b))
			}
			if len(data) != int(h.Len)-abi.SizeofCmsghdr {
				t.Fatalf("data of %d bytes for cmsg_len %d", len(data), h.Len)
			}
			return nil
		})
	})
}
