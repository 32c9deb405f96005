package kernel

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// ifreq stores a struct ifreq naming iface and returns its address.
func ifreq(mem *fileTestMem, iface string) abi.Addr {
	a := mem.alloc(abi.SizeofIfreq)
	clear(mem.bytesAt(a, abi.SizeofIfreq))
	copy(mem.bytesAt(a, abi.IFNAMSIZ), iface)
	return a
}

func TestSocketIoctlInterfaceQueries(t *testing.T) {
	task, mem := newFileTestTask(t)
	s := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_DGRAM, 0)
	f, err := task.Proc.FDs.Acquire(int32(s))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	// The host's own answers.
	hostIfreq := func(req uint) uint32 {
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.IoctlIfreq(f.FD(), req, ifr); err != nil {
			t.Skipf("no loopback interface on the host: %v", err)
		}
		return ifr.Uint32()
	}
	idx, mtu := hostIfreq(unix.SIOCGIFINDEX), hostIfreq(unix.SIOCGIFMTU)

	tests := []struct {
		name   string
		req    uint32
		arg    func() abi.Addr
		check  func(arg abi.Addr) string
		wantEr abi.Errno
	}{
		{"SIOCGIFINDEX of lo", abi.SIOCGIFINDEX, func() abi.Addr { return ifreq(mem, "lo") }, func(a abi.Addr) string {
			if got := mem.u32(a + abi.IFNAMSIZ); got != idx {
				return "index differs from the host's"
			}
			return ""
		}, 0},
		{"SIOCGIFMTU of lo", abi.SIOCGIFMTU, func() abi.Addr { return ifreq(mem, "lo") }, func(a abi.Addr) string {
			if got := mem.u32(a + abi.IFNAMSIZ); got != mtu {
				return "MTU differs from the host's"
			}
			return ""
		}, 0},
		{"SIOCGIFFLAGS of lo", abi.SIOCGIFFLAGS, func() abi.Addr { return ifreq(mem, "lo") }, func(a abi.Addr) string {
			if binary.LittleEndian.Uint16(mem.bytesAt(a+abi.IFNAMSIZ, 2))&unix.IFF_LOOPBACK == 0 {
				return "lo lacks IFF_LOOPBACK"
			}
			return ""
		}, 0},
		{"unknown interface", abi.SIOCGIFINDEX, func() abi.Addr { return ifreq(mem, "nosuchif0") }, nil, abi.ENODEV},
		{"bad pointer", abi.SIOCGIFINDEX, func() abi.Addr { return fileBadAddr }, nil, abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arg := tc.arg()
			_, handled, err := task.socketIoctl(f, tc.req, arg)
			if !handled {
				t.Fatal("not handled")
			}
			if got := fileErrnoOf(err); got != tc.wantEr {
				t.Fatalf("error %v, want %v", err, tc.wantEr)
			}
			if tc.check != nil {
				if msg := tc.check(arg); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestSocketIoctlIfconf(t *testing.T) {
	task, mem := newFileTestTask(t)
	s := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_DGRAM, 0)
	f, _ := task.Proc.FDs.Acquire(int32(s))
	defer f.Release()
	conf := mem.alloc(abi.SizeofIfconf)
	clear(mem.bytesAt(conf, abi.SizeofIfconf))
	if _, _, err := task.socketIoctl(f, abi.SIOCGIFCONF, conf); err != nil {
		t.Fatal(err)
	}
	need := mem.u32(conf)
	if need == 0 || need%abi.SizeofIfreq != 0 {
		t.Fatalf("SIOCGIFCONF with no buffer needs %d bytes, want a positive multiple of %d", need, abi.SizeofIfreq)
	}
	buf := mem.alloc(int(need))
	binary.LittleEndian.PutUint64(mem.bytesAt(conf+8, 8), uint64(buf))
	if _, _, err := task.socketIoctl(f, abi.SIOCGIFCONF, conf); err != nil {
		t.Fatal(err)
	}
	if got := mem.u32(conf); got != need {
		t.Errorf("filled %d bytes, want %d", got, need)
	}
	found := false
	for off := 0; off < int(need); off += abi.SizeofIfreq {
		name := mem.bytesAt(buf+abi.Addr(off), abi.IFNAMSIZ)
		if string(bytes.TrimRight(name, "\x00")) == "lo" {
			found = true
		}
	}
	if !found {
		t.Error("lo not among the interfaces")
	}
}

func TestSocketIoctlLeavesOtherFilesAndRequests(t *testing.T) {
	task, mem := newFileTestTask(t)
	r, _ := guestPipe(t, task, mem, 0)
	s := mustSys(t, task, abi.SYS_SOCKET, abi.AF_INET, abi.SOCK_DGRAM, 0)
	tests := []struct {
		name string
		fd   uint64
		req  uint32
	}{
		{"socket request on a pipe", r, abi.SIOCGIFINDEX},
		{"terminal request on a socket", s, abi.TCGETS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := task.Proc.FDs.Acquire(int32(tc.fd))
			defer f.Release()
			if _, handled, _ := task.socketIoctl(f, tc.req, mem.alloc(64)); handled {
				t.Error("handled")
			}
		})
	}
}
