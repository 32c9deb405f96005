package kernel

import (
	"errors"
	"os"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestSharedFDChecksCredentialsAndDescriptor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	p := &Process{FDs: NewFDTable()}
	hfd, err := unix.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	gfd, err := p.FDs.Install(hfd, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Creds()
	uid, gid := c.RUID, c.RGID
	for _, tc := range []struct {
		name     string
		fd       int32
		uid, gid uint32
		ptrace   bool
		dumpable int32
		want     error
	}{
		{"same ids", gfd, uid, gid, false, 1, nil},
		{"other uid", gfd, uid + 1, gid, false, 1, abi.EPERM},
		{"other gid", gfd, uid, gid + 1, false, 1, abi.EPERM},
		{"other uid with CAP_SYS_PTRACE", gfd, uid + 1, gid, true, 1, nil},
		{"not dumpable", gfd, uid, gid, false, 0, abi.EPERM},
		{"not dumpable with CAP_SYS_PTRACE", gfd, uid, gid, true, 0, nil},
		{"no such descriptor", gfd + 5, uid, gid, false, 1, abi.EBADF},
	} {
		x := p.ext()
		x.mu.Lock()
		x.st.Dumpable = tc.dumpable
		x.mu.Unlock()
		fd, err := p.SharedFD(tc.fd, tc.uid, tc.gid, tc.ptrace)
		if !errors.Is(err, tc.want) && err != tc.want {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if err != nil {
			continue
		}
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: the duplicate is not close-on-exec", tc.name)
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			t.Errorf("%s: write through the duplicate: %v", tc.name, err)
		}
		unix.Close(fd)
	}
}
