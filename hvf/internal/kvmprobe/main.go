// Command kvmprobe checks the KVM backend of package hvf on the machine it
// runs on: it builds a VM, runs a guest doing N getpid-style syscalls
// followed by an int3, and prints the exit mechanism the backend probed and
// the round-trip time per syscall exit. For debugging only:
//
//	go run ./hvf/internal/kvmprobe -n 20000
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/elfuse/elfuse/hvf"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// guest, assembled with GNU as:
//
//	0: b8 27 00 00 00   mov  $39,%eax
//	5: 0f 05            syscall
//	7: 48 ff cb         dec  %rbx
//	a: 75 f4            jne  0
//	c: cc               int3
var guest = []byte{0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0xff, 0xcb, 0x75, 0xf4, 0xcc}

const (
	codeAddr  = 0x400000
	stackAddr = 0x7ff00000
	pageSize  = 4096
)

func main() {
	n := flag.Int("n", 10000, "number of syscall exits to time")
	flag.Parse()
	log := hclog.New(&hclog.LoggerOptions{Name: "kvmprobe", Level: hclog.Info, Output: os.Stderr})
	if err := run(log, *n); err != nil {
		log.Error("probe failed", "error", err)
		os.Exit(1)
	}
}

func memfd(content []byte) (int, error) {
	fd, err := unix.MemfdCreate("kvmprobe", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if err := unix.Ftruncate(fd, pageSize); err != nil {
		return -1, err
	}
	_, err = unix.Pwrite(fd, content, 0)
	return fd, err
}

func run(log hclog.Logger, n int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := time.Now()
	b, err := hvf.NewKVM(log)
	if err != nil {
		return err
	}
	m, err := b.NewMachine(hvf.Config{AddrLimit: 1 << 46})
	if err != nil {
		return err
	}
	defer m.Close()
	code, err := memfd(guest)
	if err != nil {
		return err
	}
	stack, err := memfd(nil)
	if err != nil {
		return err
	}
	if err := m.Map(codeAddr, pageSize, hvf.ProtRead|hvf.ProtExec, code, 0); err != nil {
		return err
	}
	if err := m.Map(stackAddr, pageSize, hvf.ProtRead|hvf.ProtWrite, stack, 0); err != nil {
		return err
	}
	c, err := m.NewVCPU()
	if err != nil {
		return err
	}
	r := c.Regs()
	r.RIP, r.RSP, r.RFLAGS, r.RBX = codeAddr, stackAddr+pageSize, 0x202, uint64(n)
	setup := time.Since(t0)
	t1 := time.Now()
	syscalls, interrupts := 0, 0
	for {
		exit, err := c.Run()
		if err != nil {
			return err
		}
		switch exit.Reason {
		case hvf.ExitSyscall:
			if r.RAX != 39 || r.RIP != codeAddr+7 {
				return fmt.Errorf("syscall exit with rax=%#x rip=%#x", r.RAX, r.RIP)
			}
			r.RAX = 1234
			syscalls++
			continue
		case hvf.ExitInterrupted:
			interrupts++
			continue
		case hvf.ExitException:
			if exit.Vector != hvf.VectorBP || r.RIP != codeAddr+0xd {
				return fmt.Errorf("exception %+v at rip %#x", exit, r.RIP)
			}
		}
		break
	}
	d := time.Since(t1)
	fmt.Printf("backend %s: setup %v, %d syscall exits in %v (%.2f us/exit), %d interrupts, then #BP at %#x\n",
		b.Name(), setup, syscalls, d, float64(d.Microseconds())/float64(max(syscalls, 1)), interrupts, r.RIP)
	return nil
}
