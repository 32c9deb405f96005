package abi

// UTSLen is the size of each field of struct new_utsname.
const UTSLen = 65

// Utsname is struct new_utsname (uname(2)), 390 bytes.
type Utsname struct {
	Sysname    [UTSLen]byte
	Nodename   [UTSLen]byte
	Release    [UTSLen]byte
	Version    [UTSLen]byte
	Machine    [UTSLen]byte
	Domainname [UTSLen]byte
}

// SizeofUtsname is sizeof(struct new_utsname).
const SizeofUtsname = 6 * UTSLen
