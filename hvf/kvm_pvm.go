package hvf

import "os"

// KVMIsPVM reports whether /dev/kvm is served by kvm_pvm, PVM's software
// virtualization (KVM-NOTES.md): no VMX or SVM, guest ring 0 emulated, a
// VM's page tables shadowed in software. One vendor module drives
// /dev/kvm at a time, so the loaded module tells. Measured on such a
// 2-CPU host (docs/performance.md, session 12), the ptrace backend was
// faster at everything: a system call 15 against 28 us, a static hello's
// start-up 13 against 17 ms, fork+exec+wait 2.3 against 4.4 ms, a fork of
// 4 MiB 0.9 against 5.3 ms; compute was native on both.
func KVMIsPVM() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}
