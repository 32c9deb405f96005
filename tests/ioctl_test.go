package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// Interface ioctls (struct ifreq on a socket): testdata/ioctl_if.c reads
// lo's flags, index and name, mtu, address, netmask and hardware family,
// lists interfaces with SIOCGIFCONF, changes the mtu and takes lo down and
// up again, in a fresh network namespace: natively under unshare --net,
// under elfuse with --net=none, so the host's interfaces never change.
func TestIoctlInterfaces(t *testing.T) {
	prefix, why := nativeNetns(t, nil)
	if why != "" {
		t.Skip(why)
	}
	bin := elfuse.Require(t)
	for _, comp := range testutil.Compilers {
		t.Run(comp.Name, func(t *testing.T) {
			prog := cc.Build(t, comp, "ioctl_if.c")
			for _, b := range testutil.Backends() {
				t.Run(b, func(t *testing.T) {
					testutil.RequireBackend(t, b)
					compareNetns(t, bin, b, prog, prefix, nil, "lo")
				})
			}
		})
	}
}
