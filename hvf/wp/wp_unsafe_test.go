package wp

import "unsafe"

// addrOf is the address of b's first byte (a mapping's start).
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
