package kernel

import (
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// The interface-changing requests copy the guest's ifreq in first: a bad
// pointer is EFAULT and an unknown interface the host's ENODEV, neither
// touching any real interface.
func TestSocketIoctlInterfaceChanges(t *testing.T) {
	task, mem := newFileTestTask(t)
	s := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_DGRAM, 0)
	f, err := task.Proc.FDs.Acquire(int32(s))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	for _, req := range []uint32{siocSIFFLAGS, siocSIFMTU} {
		for _, tc := range []struct {
			name string
			arg  abi.Addr
			want abi.Errno
		}{
			{"bad pointer", fileBadAddr, abi.EFAULT},
			{"unknown interface", ifreq(mem, "nosuchif0"), abi.ENODEV},
		} {
			_, handled, err := task.socketIoctl(f, req, tc.arg)
			if !handled {
				t.Fatalf("%#x not handled", req)
			}
			if got := fileErrnoOf(err); got != tc.want {
				t.Errorf("%#x %s: error %v, want %v", req, tc.name, err, tc.want)
			}
		}
	}
}
