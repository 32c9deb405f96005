package guestproc

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/hvf/ptrace"
	"github.com/elfuse/elfuse/ipc"
)

// openBackend returns the hypervisor backend named by the user: "kvm",
// "ptrace", or "auto": KVM when it is usable and hardware-assisted, else
// ptrace (on PVM's software KVM the ptrace backend is the faster one:
// hvf.KVMIsPVM).
func openBackend(name string, log hclog.Logger) (hvf.Backend, error) {
	switch name {
	case "kvm":
		return hvf.NewKVM(log.Named("kvm"))
	case "ptrace":
		return ptrace.New(log.Named("ptrace"))
	case "auto", "":
		if hvf.KVMIsPVM() {
			log.Debug("/dev/kvm is PVM (software virtualization): using the faster ptrace backend")
			return ptrace.New(log.Named("ptrace"))
		}
		b, err := hvf.NewKVM(log.Named("kvm"))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, hvf.ErrUnavailable) {
			return nil, err
		}
		log.Debug("KVM unavailable, using the ptrace backend", "reason", err)
		return ptrace.New(log.Named("ptrace"))
	}
	return nil, fmt.Errorf("unknown backend %q (want kvm, ptrace or auto)", name)
}

// watchStubs sends the supervisor a pidfd of every stub process the
// backend starts (ipc/stub.go): when this guestproc is killed, its death
// is told only once they are gone too.
func watchStubs(b hvf.Backend, conn *ipc.Conn, log hclog.Logger) {
	w, ok := b.(hvf.StubWatcher)
	if !ok {
		return
	}
	w.WatchStubs(func(pidfd int) {
		if err := conn.Send(ipc.MsgHostStub, struct{}{}, pidfd); err != nil {
			log.Debug("stub pidfd to the supervisor", "error", err)
		}
		unix.Close(pidfd)
	})
}
