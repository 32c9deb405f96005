package kernel

import (
	"encoding/binary"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

const (
	capHdr  = testMemBase + 0x600
	capData = testMemBase + 0x620
)

// putCapHeader writes a capget/capset header.
func (e *procTestEnv) putCapHeader(version uint32, pid int32) {
	binary.LittleEndian.PutUint32(e.bytesAt(capHdr, 4), version)
	binary.LittleEndian.PutUint32(e.bytesAt(capHdr+4, 4), uint32(pid))
}

// readCapData decodes two v3 data words as 64-bit sets.
func (e *procTestEnv) readCapData() (eff, perm, inh uint64) {
	w := func(i int) uint64 { return uint64(binary.LittleEndian.Uint32(e.bytesAt(capData+abi.Addr(4*i), 4))) }
	return w(0) | w(3)<<32, w(1) | w(4)<<32, w(2) | w(5)<<32
}

// putCapData encodes 64-bit sets as two v3 data words.
func (e *procTestEnv) putCapData(eff, perm, inh uint64) {
	for i, v := range []uint64{eff, perm, inh} {
		binary.LittleEndian.PutUint32(e.bytesAt(capData+abi.Addr(4*i), 4), uint32(v))
		binary.LittleEndian.PutUint32(e.bytesAt(capData+abi.Addr(12+4*i), 4), uint32(v>>32))
	}
}

func TestCapgetIsTheHostsAtStart(t *testing.T) {
	e := newProcTestEnv(t)
	e.putCapHeader(abi.LINUX_CAPABILITY_VERSION_3, 0)
	if _, err := e.call(Capget, uint64(capHdr), uint64(capData)); err != nil {
		t.Fatal(err)
	}
	hdr := unix.CapUserHeader{Version: abi.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	eff, perm, inh := e.readCapData()
	if eff != uint64(data[0].Effective)|uint64(data[1].Effective)<<32 ||
		perm != uint64(data[0].Permitted)|uint64(data[1].Permitted)<<32 ||
		inh != uint64(data[0].Inheritable)|uint64(data[1].Inheritable)<<32 {
		t.Fatalf("capget = %#x %#x %#x, host %+v", eff, perm, inh, data)
	}
}

func TestCapgetHeaderHandling(t *testing.T) {
	tests := []struct {
		name        string
		version     uint32
		pid         int32
		data        abi.Addr
		wantErr     abi.Errno
		wantVersion uint32
	}{
		{"v3 for self", abi.LINUX_CAPABILITY_VERSION_3, 0, capData, 0, abi.LINUX_CAPABILITY_VERSION_3},
		{"v1 for own pid", abi.LINUX_CAPABILITY_VERSION_1, 1, capData, 0, abi.LINUX_CAPABILITY_VERSION_1},
		{"unknown version is EINVAL and says v3", 0x1234, 0, capData, abi.EINVAL, abi.LINUX_CAPABILITY_VERSION_3},
		{"probing with NULL data is 0 and says v3", 0, 0, 0, 0, abi.LINUX_CAPABILITY_VERSION_3},
		{"negative pid is EINVAL", abi.LINUX_CAPABILITY_VERSION_3, -1, capData, abi.EINVAL, abi.LINUX_CAPABILITY_VERSION_3},
		{"other pid is ESRCH", abi.LINUX_CAPABILITY_VERSION_3, 99, capData, abi.ESRCH, abi.LINUX_CAPABILITY_VERSION_3},
		{"bad data pointer is EFAULT", abi.LINUX_CAPABILITY_VERSION_3, 0, testBadAddr, abi.EFAULT, abi.LINUX_CAPABILITY_VERSION_3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.putCapHeader(tc.version, tc.pid)
			if _, err := e.call(Capget, uint64(capHdr), uint64(tc.data)); errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
			if v := binary.LittleEndian.Uint32(e.bytesAt(capHdr, 4)); v != tc.wantVersion {
				t.Fatalf("header version %#x, want %#x", v, tc.wantVersion)
			}
		})
	}
}

func TestCapsetMayOnlyShrink(t *testing.T) {
	const setuid = 1 << abi.CAP_SETUID
	tests := []struct {
		name           string
		start          Caps
		eff, perm, inh uint64
		wantErr        abi.Errno
	}{
		{"drop everything", rootCaps, 0, 0, 0, 0},
		{"keep only CAP_SETUID", rootCaps, setuid, setuid, 0, 0},
		{"effective beyond permitted is EPERM", Caps{Permitted: 0}, setuid, 0, 0, abi.EPERM},
		{"raising permitted is EPERM", Caps{Permitted: 0}, 0, setuid, 0, abi.EPERM},
		{"inheritable from permitted", Caps{Permitted: setuid, Bounding: setuid}, 0, setuid, setuid, 0},
		{"inheritable from nowhere is EPERM", Caps{Bounding: capValid}, 0, 0, setuid, abi.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.t.Proc.SetState(ProcState{Creds: Creds{Caps: tc.start}})
			e.putCapHeader(abi.LINUX_CAPABILITY_VERSION_3, 0)
			e.putCapData(tc.eff, tc.perm, tc.inh)
			_, err := e.call(Capset, uint64(capHdr), uint64(capData))
			if errnoOf(err) != tc.wantErr {
				t.Fatalf("got %v, want errno %d", err, tc.wantErr)
			}
			c := e.t.Proc.Creds().Caps
			if err == nil && (c.Effective != tc.eff || c.Permitted != tc.perm || c.Inheritable != tc.inh) {
				t.Fatalf("caps now %+v", c)
			}
			if err != nil && c != tc.start {
				t.Fatalf("refused capset changed caps to %+v", c)
			}
		})
	}
	e := newProcTestEnv(t)
	e.putCapHeader(abi.LINUX_CAPABILITY_VERSION_3, 42)
	if _, err := e.call(Capset, uint64(capHdr), uint64(capData)); errnoOf(err) != abi.EPERM {
		t.Fatalf("capset on another pid: %v, want EPERM", err)
	}
}

func TestSetuidAdjustsCapabilities(t *testing.T) {
	const none = uint64(0xffffffff)
	root := Creds{Caps: rootCaps}
	tests := []struct {
		name      string
		keepCaps  bool
		fn        SyscallFn
		args      []uint64
		wantEff   uint64
		wantPerm  uint64
		canSetuid bool
	}{
		{"setuid away from root drops everything", false, Setuid, []uint64{1000}, 0, 0, false},
		{"with keepcaps the permitted set stays", true, Setuid, []uint64{1000}, 0, capValid, false},
		{"euid away from root drops only the effective set", false, Setresuid, []uint64{none, 1000, none}, 0, capValid, false},
		{"fsuid away from root drops the fs capabilities", false, Setfsuid, []uint64{1000}, capValid &^ capFSMask, capValid, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcTestEnv(t)
			e.t.Proc.SetState(ProcState{Creds: root, KeepCaps: tc.keepCaps})
			if _, err := e.call(tc.fn, tc.args...); err != nil {
				t.Fatal(err)
			}
			c := e.t.Proc.Creds()
			if c.Caps.Effective != tc.wantEff || c.Caps.Permitted != tc.wantPerm {
				t.Fatalf("caps %+v, want effective %#x permitted %#x", c.Caps, tc.wantEff, tc.wantPerm)
			}
			if c.capable(abi.CAP_SETUID) != tc.canSetuid {
				t.Fatalf("CAP_SETUID held: %v", !tc.canSetuid)
			}
		})
	}
	// Regaining euid 0 restores the effective set from the permitted one.
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: root})
	if _, err := e.call(Setresuid, none, 1000, none); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(Setresuid, none, 0, none); err != nil {
		t.Fatalf("back to euid 0: %v", err)
	}
	if c := e.t.Proc.Creds().Caps; c.Effective != capValid {
		t.Fatalf("effective after regaining euid 0: %#x", c.Effective)
	}
}

func TestPrctlCapabilitySets(t *testing.T) {
	const setuid = 1 << abi.CAP_SETUID
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: Creds{Caps: Caps{Effective: 1 << abi.CAP_SETPCAP, Permitted: setuid | 1<<abi.CAP_SETPCAP,
		Inheritable: setuid, Bounding: capValid}}})
	steps := []struct {
		name    string
		args    []uint64
		want    uint64
		wantErr abi.Errno
	}{
		{"bounding has CAP_SETUID", []uint64{abi.PR_CAPBSET_READ, abi.CAP_SETUID}, 1, 0},
		{"drop it from the bounding set", []uint64{abi.PR_CAPBSET_DROP, abi.CAP_SETUID}, 0, 0},
		{"bounding lost CAP_SETUID", []uint64{abi.PR_CAPBSET_READ, abi.CAP_SETUID}, 0, 0},
		{"ambient raise of a permitted+inheritable cap", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_RAISE, abi.CAP_SETUID}, 0, 0},
		{"ambient is set", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_IS_SET, abi.CAP_SETUID}, 1, 0},
		{"ambient raise of a cap not inheritable is EPERM", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_RAISE, abi.CAP_SETPCAP}, 0, abi.EPERM},
		{"ambient clear all", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_CLEAR_ALL, 0}, 0, 0},
		{"ambient is clear", []uint64{abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_IS_SET, abi.CAP_SETUID}, 0, 0},
		{"unknown ambient op is EINVAL", []uint64{abi.PR_CAP_AMBIENT, 9, 0}, 0, abi.EINVAL},
	}
	for _, s := range steps {
		got, err := e.call(Prctl, s.args...)
		if errnoOf(err) != s.wantErr || got != s.want {
			t.Fatalf("%s: got %d, %v; want %d, errno %d", s.name, got, err, s.want, s.wantErr)
		}
	}
	e.t.Proc.SetState(ProcState{Creds: Creds{Caps: Caps{Bounding: capValid}}})
	if _, err := e.call(Prctl, abi.PR_CAPBSET_DROP, abi.CAP_SETUID); errnoOf(err) != abi.EPERM {
		t.Fatalf("bounding drop without CAP_SETPCAP: %v, want EPERM", err)
	}
}

func TestExecRecomputesCapabilities(t *testing.T) {
	e := newProcTestEnv(t)
	e.t.Proc.SetState(ProcState{Creds: Creds{Caps: Caps{Bounding: capValid}}, KeepCaps: true})
	e.t.Proc.ResetForExec()
	st := e.t.Proc.State()
	if st.Creds.Caps.Permitted != capValid || st.Creds.Caps.Effective != capValid || st.KeepCaps {
		t.Fatalf("root after exec: %+v keepcaps %v", st.Creds.Caps, st.KeepCaps)
	}
	e.t.Proc.SetState(ProcState{Creds: Creds{RUID: 1000, EUID: 1000, SUID: 1000,
		Caps: Caps{Permitted: capValid, Effective: capValid, Ambient: 1 << abi.CAP_SETUID}}})
	e.t.Proc.ResetForExec()
	if c := e.t.Proc.Creds().Caps; c.Permitted != 1<<abi.CAP_SETUID || c.Effective != 1<<abi.CAP_SETUID {
		t.Fatalf("user after exec: %+v, want only the ambient set", c)
	}
}
