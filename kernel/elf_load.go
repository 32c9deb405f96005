package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Executable is an opened, validated program (and its PT_INTERP
// interpreter): everything execve can check before the point of no return.
type Executable struct {
	// Path is the host path the program was opened from (AT_EXECFN).
	Path string
	// Resolved is the absolute path of the opened file, symlinks
	// resolved, as Linux's /proc/self/exe shows it.
	Resolved string
	file     *os.File
	img      *elfImage
	interp   *os.File
	iimg     *elfImage
	// scripts are the "#!" files that led to file, outermost first.
	scripts []script
}

// Image is a program loaded into an address space: where to start it.
type Image struct {
	// Entry is the first instruction (the interpreter's entry when there
	// is one); SP the initial stack pointer (at argc).
	Entry, SP abi.Addr
	// Auxv is the auxiliary vector placed on the stack.
	Auxv []AuxEntry
	// Base is the interpreter's load address (AT_BASE), 0 without one.
	Base abi.Addr
	// ProgEntry is the program's own entry (AT_ENTRY) and Brk the start
	// of its heap.
	ProgEntry, Brk abi.Addr
	// Argv is the argument vector on the stack (rewritten for scripts).
	Argv []string
}

// OpenExecutable opens the host file at path and validates it as an x86-64
// Linux executable: an ELF (with its PT_INTERP interpreter) or a "#!"
// script whose interpreter chain (at most maxScriptDepth scripts) ends in
// one. Errors wrap an abi.Errno: ENOENT (missing), EACCES (not a regular
// executable file), ENOEXEC (not loadable, with the reason), ELOOP (too
// many nested scripts).
func OpenExecutable(path string) (*Executable, error) {
	return OpenExecutableWith(path, os.Open)
}

// Opener opens a path for reading the way the guest resolves paths (the
// host filesystem, or a sysroot with openat2(RESOLVE_IN_ROOT)).
type Opener func(path string) (*os.File, error)

// OpenExecutableWith is OpenExecutable with every path (program, #!
// interpreters, PT_INTERP) opened through open.
func OpenExecutableWith(path string, open Opener) (*Executable, error) {
	x := &Executable{Path: path}
	where := func(cur string) string {
		if cur == path {
			return path
		}
		return path + ": interpreter " + cur
	}
	cur := path
	for depth := 0; ; depth++ {
		f, size, err := openChecked(cur, open)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(cur), err)
		}
		sc, isScript, err := readShebang(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", where(cur), err)
		}
		if isScript {
			f.Close()
			if depth == maxScriptDepth {
				return nil, fmt.Errorf("%s: more than %d nested #! interpreters: %w", path, maxScriptDepth, abi.ELOOP)
			}
			sc.path = cur
			x.scripts = append(x.scripts, sc)
			cur = sc.interp
			continue
		}
		img, err := parseELF(f, size, AddrLimit)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", where(cur), err)
		}
		x.file, x.img, x.Resolved = f, img, fdPath(f)
		break
	}
	img := x.img
	if img.interp != "" {
		ifile, iimg, err := openELF(img.interp, open, AddrLimit)
		if err != nil {
			x.file.Close()
			return nil, fmt.Errorf("%s: interpreter %s: %w", path, img.interp, err)
		}
		if iimg.interp != "" {
			x.file.Close()
			ifile.Close()
			return nil, fmt.Errorf("%s: interpreter %s has its own PT_INTERP: %w", path, img.interp, abi.ENOEXEC)
		}
		x.interp, x.iimg = ifile, iimg
	}
	return x, nil
}

// Close releases the files.
func (x *Executable) Close() error {
	err := x.file.Close()
	if x.interp != nil {
		x.interp.Close()
	}
	return err
}

// Interp returns the PT_INTERP path ("" for a static program).
func (x *Executable) Interp() string { return x.img.interp }

// openChecked opens path for execution: it must exist (ENOENT...), be a
// regular file and be executable (EACCES).
func openChecked(path string, open Opener) (*os.File, int64, error) {
	f, err := open(path)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return nil, 0, fmt.Errorf("open: %w", abi.Errno(errno))
		}
		var guestErrno abi.Errno
		if errors.As(err, &guestErrno) {
			return nil, 0, fmt.Errorf("open: %w", guestErrno)
		}
		return nil, 0, fmt.Errorf("open: %v: %w", err, abi.EIO)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat: %v: %w", err, abi.EIO)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("not a regular file (%s): %w", st.Mode().Type(), abi.EACCES)
	}
	// Check execute permission on the opened file itself, not on a path
	// that may resolve differently.
	if err := executable(int(f.Fd())); err != nil || st.Mode().Perm()&0o111 == 0 {
		f.Close()
		return nil, 0, fmt.Errorf("not executable (mode %v): %w", st.Mode().Perm(), abi.EACCES)
	}
	return f, st.Size(), nil
}

// executable checks that the caller may execute the open file fd, with
// the thread's fs ids and effective set as execve does (AT_EACCESS: the
// thread carries the guest's, creds_thread.go; its real ids are elfuse's):
// faccessat2(fd, "", X_OK, AT_EMPTY_PATH|AT_EACCESS) (Linux 5.8), else
// faccessat of its /proc/self/fd link, a path walk through procfs that
// cost a tenth of an execve here.
func executable(fd int) error {
	err := unix.Faccessat2(fd, "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS)
	if err == unix.ENOSYS || err == unix.EINVAL || err == unix.EPERM {
		// Older kernels, or a seccomp filter that refuses the call.
		err = unix.Faccessat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.X_OK, unix.AT_EACCESS)
	}
	return err
}

// openELF opens and validates one ELF file.
func openELF(path string, open Opener, limit abi.Addr) (*os.File, *elfImage, error) {
	f, size, err := openChecked(path, open)
	if err != nil {
		return nil, nil, err
	}
	img, err := parseELF(f, size, limit)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, img, nil
}

// fdPath returns the path of an open file as the kernel names it (absolute,
// symlinks resolved), or its name when /proc is unavailable.
func fdPath(f *os.File) string {
	if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
		return p
	}
	if p, err := filepath.Abs(f.Name()); err == nil {
		return p
	}
	return f.Name()
}

// loadedELF describes one ELF mapped into memory.
type loadedELF struct {
	bias  abi.Addr
	entry abi.Addr
	phdr  abi.Addr
	end   abi.Addr // page-aligned end of the highest segment
}

// segProt converts PT_LOAD p_flags to mmap protections.
func segProt(flags uint32) int {
	prot := 0
	if flags&abi.PF_R != 0 {
		prot |= abi.PROT_READ
	}
	if flags&abi.PF_W != 0 {
		prot |= abi.PROT_WRITE
	}
	if flags&abi.PF_X != 0 {
		prot |= abi.PROT_EXEC
	}
	return prot
}

// loadELF maps img's PT_LOAD segments from f at bias, as Linux's elf_map:
// file pages privately, .bss zeroed from p_filesz to the page end and
// anonymous beyond, permissions from p_flags.
func (m *MM) loadELF(f *os.File, img *elfImage, bias abi.Addr) (loadedELF, error) {
	for i, p := range img.loads {
		vaddr := bias + abi.Addr(p.Vaddr)
		start := vaddr.RoundDown()
		memEnd, _ := (vaddr + abi.Addr(p.Memsz)).RoundUp()
		fileEnd := vaddr + abi.Addr(p.Filesz)
		prot := segProt(p.Flags)
		flags := abi.MAP_PRIVATE | abi.MAP_FIXED
		if p.Filesz > 0 {
			fileMapEnd, _ := fileEnd.RoundUp()
			off := p.Off - uint64(vaddr-start)
			if _, err := m.Mmap(start, uint64(fileMapEnd-start), prot, flags, int(f.Fd()), off); err != nil {
				return loadedELF{}, fmt.Errorf("map PT_LOAD #%d at %#x: %w", i, uint64(start), err)
			}
			if p.Memsz > p.Filesz && prot&abi.PROT_WRITE != 0 {
				// Zero the rest of the page holding the end of the file data
				// (it was read from the file) up to the page end, as Linux's
				// padzero: ld.so's early allocator takes that tail for
				// zeroed memory. Like Linux (6.7 on), a read-only segment
				// keeps the file's bytes there: it maps the file directly.
				m.zero(abi.Range{Start: fileEnd, End: fileMapEnd})
			}
			start = fileMapEnd
		}
		if memEnd > start {
			if _, err := m.Mmap(start, uint64(memEnd-start), prot, flags|abi.MAP_ANONYMOUS, -1, 0); err != nil {
				return loadedELF{}, fmt.Errorf("map .bss of PT_LOAD #%d at %#x: %w", i, uint64(start), err)
			}
		}
		if prot&abi.PROT_WRITE != 0 && p.Memsz <= maxPrefaultSegment {
			m.hintPrefault(abi.Range{Start: vaddr.RoundDown(), End: memEnd}, true)
		}
	}
	l := loadedELF{bias: bias, entry: bias + abi.Addr(img.hdr.Entry), end: bias + img.end}
	if ph, ok := img.phdrVaddr(); ok {
		l.phdr = bias + abi.Addr(ph)
	}
	return l, nil
}

// zero clears r through the window, whatever its protection.
func (m *MM) zero(r abi.Range) {
	if r.End <= r.Start {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, _, ram := m.accessible(r.Start, uint64(r.Len()), false); e == r.End && ram && r.Len() <= abi.PageSize {
		// A fresh page: through the memfd, not a window fault (mm_cold.go).
		var zeros [abi.PageSize]byte
		if m.writeRAM(r.Start, zeros[:r.Len()]) {
			return
		}
	}
	m.window.zero(r)
}

// etDynBase is where a position-independent main program goes (Linux's
// ELF_ET_DYN_BASE, two thirds of the address space).
func (m *MM) etDynBase() abi.Addr { return (m.limit / 3 * 2).RoundDown() }

// Load maps the program (and interpreter) into the empty address space m,
// builds the initial stack with argv, envp and the auxiliary vector, and
// sets the program break. It returns where to start.
func (x *Executable) Load(m *MM, argv, envp []string) (*Image, error) {
	argv = x.Argv(argv)
	img := x.img
	var bias abi.Addr
	if img.hdr.Type == abi.ET_DYN {
		base := m.etDynBase() &^ abi.Addr(img.align-1)
		bias = base - img.first
	}
	prog, err := m.loadELF(x.file, img, bias)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.Path, err)
	}
	m.SetBrkStart(prog.end)
	entry := prog.entry
	var base abi.Addr
	if x.interp != nil {
		m.mu.RLock()
		at, ok := m.findFree(uint64(x.iimg.end-x.iimg.first), x.iimg.align, abi.MMAP_MIN_ADDR, m.mmapBase)
		m.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("%s: no room for interpreter %s: %w", x.Path, img.interp, abi.ENOMEM)
		}
		ibias := at - x.iimg.first
		if x.iimg.hdr.Type == abi.ET_EXEC {
			ibias = 0
		}
		ld, err := m.loadELF(x.interp, x.iimg, ibias)
		if err != nil {
			return nil, fmt.Errorf("%s: interpreter %s: %w", x.Path, img.interp, err)
		}
		base, entry = ld.bias+x.iimg.first, ld.entry
	}
	vdso, err := m.mapVDSO()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.Path, err)
	}
	// Read at once: the entry page (a hint on a file page maps its
	// fault-around neighbours too), the program headers libc's start-up
	// reads (AT_PHDR), the loader's entry and the vDSO's ELF tables.
	for i, a := range []abi.Addr{prog.entry, prog.phdr, entry} {
		if a != 0 && (i < 2 || a != prog.entry) {
			m.hintPrefault(abi.Range{Start: a.RoundDown(), End: a.RoundDown() + abi.PageSize}, false)
		}
	}
	if vdso != 0 {
		m.hintPrefault(abi.Range{Start: vdso, End: vdso + abi.Addr(len(vdsoImageOnce()))}, false)
	}
	sp, auxv, err := m.setupStack(stackArgs{
		argv: argv, envp: envp, execfn: x.Path, execStack: img.execStack,
		phdr: prog.phdr, phnum: uint64(img.hdr.Phnum), base: base, entry: prog.entry,
		vdso: vdso,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: initial stack: %w", x.Path, err)
	}
	return &Image{Entry: entry, SP: sp, Auxv: auxv, Base: base, ProgEntry: prog.entry, Brk: prog.end, Argv: argv}, nil
}
