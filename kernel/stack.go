package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/kernel/abi"
)

// maxArgStrlen is Linux's MAX_ARG_STRLEN: the longest single argument or
// environment string.
const maxArgStrlen = 32 * abi.PageSize

// platform is AT_PLATFORM.
const platform = "x86_64"

// stackArgs is what the initial stack is built from.
type stackArgs struct {
	argv, envp []string
	execfn     string
	execStack  bool
	phdr       abi.Addr
	phnum      uint64
	base       abi.Addr
	entry      abi.Addr
	vdso       abi.Addr // AT_SYSINFO_EHDR, 0 for none
}

// setupStack maps the stack ([StackTop-StackSize, StackTop), read-write,
// plus exec with an executable PT_GNU_STACK) and writes the initial process
// stack exactly as Linux's create_elf_tables lays it out, from the top:
//
//	8 zero bytes, AT_EXECFN string, envp strings, argv strings,
//	(16-byte align) AT_PLATFORM string, 16 AT_RANDOM bytes,
//	padding so that the final sp is 16-byte aligned,
//	argc, argv[], NULL, envp[], NULL, auxv pairs ending with AT_NULL  <- sp
//
// It returns the initial sp (pointing at argc) and the auxiliary vector.
// Argument strings over Linux's limits (a quarter of the stack in total,
// MAX_ARG_STRLEN each) give E2BIG.
func (m *MM) setupStack(a stackArgs) (abi.Addr, []AuxEntry, error) {
	top := m.stackTop
	total := 8 + len(a.execfn) + 1
	for _, set := range [][]string{a.argv, a.envp} {
		for _, s := range set {
			if len(s)+1 > maxArgStrlen {
				return 0, nil, abi.E2BIG
			}
			total += len(s) + 1 + 8
		}
	}
	if total > StackSize/4 {
		return 0, nil, abi.E2BIG
	}
	prot := abi.PROT_READ | abi.PROT_WRITE
	if a.execStack {
		prot |= abi.PROT_EXEC
	}
	bottom := top - StackSize
	if _, err := m.Mmap(bottom, StackSize, prot, abi.MAP_PRIVATE|abi.MAP_ANONYMOUS|abi.MAP_FIXED|abi.MAP_GROWSDOWN, -1, 0); err != nil {
		return 0, nil, err
	}
	m.nameRange(abi.Range{Start: bottom, End: top}, "[stack]")

	// Place the strings from the top down, then the table below them.
	p := top - 8
	place := func(s string) abi.Addr {
		p -= abi.Addr(len(s) + 1)
		return p
	}
	execfn := place(a.execfn)
	envAddrs := make([]abi.Addr, len(a.envp))
	for i := len(a.envp) - 1; i >= 0; i-- {
		envAddrs[i] = place(a.envp[i])
	}
	argAddrs := make([]abi.Addr, len(a.argv))
	for i := len(a.argv) - 1; i >= 0; i-- {
		argAddrs[i] = place(a.argv[i])
	}
	p &^= 15 // arch_align_stack, without the random offset
	plat := place(platform)
	p -= 16
	random := p

	auxv := buildAuxv(auxInfo{
		phdr: uint64(a.phdr), phnum: a.phnum, base: uint64(a.base), entry: uint64(a.entry),
		random: random, platform: plat, execfn: execfn, vdso: a.vdso,
	})
	words := 1 + len(a.argv) + 1 + len(a.envp) + 1 + 2*len(auxv)
	sp := (p - abi.Addr(8*words)) &^ 15

	buf := make([]byte, int(top-sp))
	at := func(a abi.Addr) []byte { return buf[a-sp:] }
	copy(at(execfn), a.execfn)
	for i, s := range a.envp {
		copy(at(envAddrs[i]), s)
	}
	for i, s := range a.argv {
		copy(at(argAddrs[i]), s)
	}
	copy(at(plat), platform)
	// getrandom(2) directly: crypto/rand would link and initialise the
	// FIPS crypto packages at every start of the binary (~0.5 ms here).
	// Requests of at most 256 bytes are never short.
	unix.Getrandom(at(random)[:16], 0)
	w := 0
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[w:], v)
		w += 8
	}
	put(uint64(len(a.argv)))
	for _, s := range argAddrs {
		put(uint64(s))
	}
	put(0)
	for _, s := range envAddrs {
		put(uint64(s))
	}
	put(0)
	for _, e := range auxv {
		put(e.Key)
		put(e.Val)
	}
	// The pages written here, and the one below them the program's first
	// calls use, are touched as soon as it runs.
	m.hintPrefault(abi.Range{Start: max(sp.RoundDown()-abi.PageSize, bottom), End: top}, true)
	if _, err := m.CopyOut(sp, buf); err != nil {
		return 0, nil, err
	}
	return sp, auxv, nil
}

// nameRange sets the /proc/PID/maps name of the mappings in r.
func (m *MM) nameRange(r abi.Range, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := m.find(r.Start); i < len(m.vmas) && m.vmas[i].start < r.End; i++ {
		m.vmas[i].name = name
	}
}
