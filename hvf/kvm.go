package hvf

import (
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// KVM backend: one VM per Machine, one KVM vCPU per VCPU, the guest in
// 64-bit ring 3 with the system area (GDT, IDT, TSS, stubs) mapped above
// Config.AddrLimit. See KVM-NOTES.md (shared) for the measured facts this
// follows; kvm_machine.go describes the address layout, exitmech.go the
// syscall path, x86_stubs.go the exception path, kvm_vcpu.go the register
// protocol.
//
// Behaviour the kernel can rely on beyond the hvf contract:
//   - Run with a non-canonical RIP returns ExitException #GP (error 0)
//     without entering the guest, as Linux's return to such an address does.
//   - ExitInterrupted leaves Regs as the live user state: editing them
//     redirects the guest (signal delivery). Spurious ones happen (Go's own
//     SIGURG); a Kick is never lost: if the vCPU was inside a stub the kick
//     is reported by the next Run.
//   - Kick interrupts KVM_RUN only; a blocking host syscall made by the
//     kernel on the vCPU thread is restarted after SIGURG (SA_RESTART).
//   - FSBase/GSBase/SetFSBase/SetGSBase and FPState/SetFPState are one
//     ioctl each (about 5 us on PVM); Regs costs nothing.
//   - VCPU.Close parks the KVM vCPU and NewVCPU reuses it (KVM frees
//     vCPUs only with their VM); the closed handle is inert.
//   - Map/Protect/Unmap errors wrap unix.EINVAL (alignment, offset),
//     unix.ENOMEM (beyond AddrLimit, Protect of an unmapped range, guest
//     physical space exhausted) or unix.EACCES (writable shared mapping of
//     a read-only descriptor).
//
// Lock order: kvmMachine.mu before kvmVCPU.runMu before kvmVCPU.lifeMu
// (vCPU Close takes runMu and lifeMu, then m.mu after releasing them).

// kvmBackend is the process-wide /dev/kvm handle with what is worth
// caching across VMs (the supported CPUID table costs 0.3 ms).
type kvmBackend struct {
	log      hclog.Logger
	fd       int
	runSize  int
	memslots int
	// maxChunks bounds the 1 GiB chunks one VM gives memory slots
	// (chunkBudget); 0: no bound.
	maxChunks int
	xcrs      bool
	cpuid     *kvmCPUID2
	info      cpuidInfo
	// merged: cpuid had no XSAVE and got the host's (mergeHostXSAVE).
	merged bool
	// mech is the exit mechanism, chosen by the probe at the first
	// syscall exit of any vCPU (nil until then).
	mech atomic.Pointer[exitMechBox]
}

// exitMechBox lets an interface value live in an atomic.Pointer.
type exitMechBox struct{ exitMech }

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: kvm: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// NewKVM opens /dev/kvm and checks that it offers what the backend needs.
// The error wraps ErrUnavailable with the reason when /dev/kvm is missing or
// unusable.
func NewKVM(log hclog.Logger) (Backend, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("kvm")
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, unavailable("open /dev/kvm: %v", err)
	}
	b := &kvmBackend{log: log, fd: fd}
	if err := b.check(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	log.Debug("kvm ready", "run_size", b.runSize, "memslots", b.memslots,
		"xsave", b.info.xsave, "xcr0", fmt.Sprintf("%#x", b.info.xcr0),
		"phys_bits", b.info.physBits, "cpuid_entries", b.cpuid.Nent)
	return b, nil
}

func kvmIoctl(fd int, req, arg uintptr) (int, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

func (b *kvmBackend) check() error {
	v, err := kvmIoctl(b.fd, kvmGetAPIVersion, 0)
	if err != nil {
		return unavailable("KVM_GET_API_VERSION: %v", err)
	}
	if v != kvmAPIVersion {
		return unavailable("KVM API version %d, want %d", v, kvmAPIVersion)
	}
	required := []struct {
		cap  uintptr
		name string
	}{
		{kvmCapUserMemory, "KVM_CAP_USER_MEMORY"},
		{kvmCapExtCPUID, "KVM_CAP_EXT_CPUID"},
		{kvmCapImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"},
		{kvmCapXSave, "KVM_CAP_XSAVE"},
	}
	for _, c := range required {
		if n, err := kvmIoctl(b.fd, kvmCheckExtension, c.cap); err != nil || n <= 0 {
			return unavailable("missing %s", c.name)
		}
	}
	if n, _ := kvmIoctl(b.fd, kvmCheckExtension, kvmCapSyncRegs); n&kvmSyncX86Regs == 0 {
		return unavailable("missing KVM_CAP_SYNC_REGS (KVM_SYNC_X86_REGS)")
	}
	if n, _ := kvmIoctl(b.fd, kvmCheckExtension, kvmCapXCRs); n > 0 {
		b.xcrs = true
	}
	b.memslots, _ = kvmIoctl(b.fd, kvmCheckExtension, kvmCapNrMemslots)
	if b.memslots <= 0 {
		b.memslots = 32 // KVM's historical minimum
	}
	b.maxChunks = chunkBudget()
	n, err := kvmIoctl(b.fd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return unavailable("KVM_GET_VCPU_MMAP_SIZE: %v", err)
	}
	if n < runMinSize {
		return unavailable("kvm_run is %d bytes, want at least %d", n, runMinSize)
	}
	b.runSize = n
	c, err := kvmGetSupportedCPUIDIoctl(b.fd)
	if err != nil {
		return unavailable("KVM_GET_SUPPORTED_CPUID: %v", err)
	}
	if mergeHostXSAVE(c, hostFeaturesNow()) {
		b.merged = true
		b.log.Debug("supported CPUID lacks XSAVE (PVM); merged the host's vector state into it")
	}
	b.cpuid = c
	b.info = analyzeCPUID(c.Entries[:c.Nent])
	return nil
}

func (b *kvmBackend) Name() string { return "kvm" }
