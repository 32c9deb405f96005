package abi

// Sysinfo is struct sysinfo (sysinfo(2)) on x86-64, 112 bytes.
type Sysinfo struct {
	Uptime    int64
	Loads     [3]uint64
	Totalram  uint64
	Freeram   uint64
	Sharedram uint64
	Bufferram uint64
	Totalswap uint64
	Freeswap  uint64
	Procs     uint16
	Pad       uint16
	_         [4]byte
	Totalhigh uint64
	Freehigh  uint64
	MemUnit   uint32
	_         [4]byte
}

// SizeofSysinfo is sizeof(struct sysinfo).
const SizeofSysinfo = 112
