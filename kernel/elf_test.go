package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/hvf"
	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

const helloC = `#include <stdio.h>
#include <stdlib.h>
static char bss[100000];
int data = 42;
int main(int argc, char **argv) { bss[1] = 1; printf("hello %d %s\n", data, argv[0]); return 0; }
`

// buildC compiles helloC with gcc and the given flags, skipping the test
// with the reason when gcc (or its static libc) is unavailable.
func buildC(t *testing.T, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed: cannot build guest test programs")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(src, []byte(helloC), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(gcc, append(append([]string{"-O2", "-o", out}, flags...), src)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if bytes.Contains(msg, []byte("cannot find -lc")) {
			t.Skipf("gcc %v: no static libc installed: %s", flags, msg)
		}
		t.Fatalf("gcc %v: %v\n%s", flags, err, msg)
	}
	return out
}

func startTest(t *testing.T, path string, argv, envp []string) (*Task, *fakeMachine) {
	t.Helper()
	fb := &fakeBackend{}
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: fb}
	task, err := k.StartProcess(path, argv, envp)
	if err != nil {
		t.Fatalf("StartProcess(%s): %v", path, err)
	}
	t.Cleanup(func() { task.Proc.MM.Close() })
	return task, fb.last
}

func readWord(t *testing.T, m *MM, a abi.Addr) uint64 {
	t.Helper()
	var b [8]byte
	if _, err := m.CopyIn(a, b[:]); err != nil {
		t.Fatalf("read word at %#x: %v", uint64(a), err)
	}
	return binary.LittleEndian.Uint64(b[:])
}

func readString(t *testing.T, m *MM, a abi.Addr) string {
	t.Helper()
	s, err := m.CopyInString(a, maxArgStrlen)
	if err != nil {
		t.Fatalf("read string at %#x: %v", uint64(a), err)
	}
	return s
}

func TestStartProcessLoadsStaticBinaries(t *testing.T) {
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		pie     bool
		interp  bool
		checkFn bool // program built here: check .data and .bss values
	}{
		{"gcc -static", func(t *testing.T) string { return buildC(t, "-static") }, false, false, true},
		{"gcc -static-pie", func(t *testing.T) string { return buildC(t, "-static-pie") }, true, false, true},
		{"busybox-static", func(t *testing.T) string {
			if _, err := os.Stat("/bin/busybox"); err != nil {
				t.Skip("/bin/busybox missing (apt package busybox-static)")
			}
			return "/bin/busybox"
		}, false, false, false},
		{"gcc dynamic (PT_INTERP)", func(t *testing.T) string { return buildC(t, "-pie") }, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			argv := []string{path, "arg one", ""}
			envp := []string{"A=1", "LONG=" + strings.Repeat("x", 5000)}
			task, fm := startTest(t, path, argv, envp)
			m := task.Proc.MM
			regs := task.CPU.Regs()
			if regs.RSP%16 != 0 || regs.RFLAGS != 0x202 {
				t.Fatalf("initial rsp %#x rflags %#x", regs.RSP, regs.RFLAGS)
			}
			sp := abi.Addr(regs.RSP)
			// argc, argv, envp.
			if argc := readWord(t, m, sp); argc != uint64(len(argv)) {
				t.Fatalf("argc = %d", argc)
			}
			for i, want := range argv {
				if got := readString(t, m, abi.Addr(readWord(t, m, sp+8+abi.Addr(8*i)))); got != want {
					t.Fatalf("argv[%d] = %q, want %q", i, got, want)
				}
			}
			p := sp + 8 + abi.Addr(8*len(argv))
			if readWord(t, m, p) != 0 {
				t.Fatal("argv not NULL-terminated")
			}
			p += 8
			for i, want := range envp {
				if got := readString(t, m, abi.Addr(readWord(t, m, p+abi.Addr(8*i)))); got != want {
					t.Fatalf("envp[%d] = %q, want %q", i, got[:min(len(got), 20)], want[:min(len(want), 20)])
				}
			}
			p += abi.Addr(8 * len(envp))
			if readWord(t, m, p) != 0 {
				t.Fatal("envp not NULL-terminated")
			}
			p += 8
			// auxv on the stack equals Process.Auxv.
			aux := map[uint64]uint64{}
			for i := 0; ; i++ {
				k, v := readWord(t, m, p), readWord(t, m, p+8)
				p += 16
				if i >= len(task.Proc.Auxv) || task.Proc.Auxv[i] != (AuxEntry{k, v}) {
					t.Fatalf("auxv[%d] on the stack = {%d %#x}, Process.Auxv has %v", i, k, v, task.Proc.Auxv)
				}
				if k == abi.AT_NULL {
					break
				}
				aux[k] = v
			}
			for _, k := range []uint64{abi.AT_PHDR, abi.AT_PHENT, abi.AT_PHNUM, abi.AT_PAGESZ, abi.AT_BASE,
				abi.AT_FLAGS, abi.AT_ENTRY, abi.AT_UID, abi.AT_EUID, abi.AT_GID, abi.AT_EGID, abi.AT_SECURE,
				abi.AT_RANDOM, abi.AT_HWCAP, abi.AT_HWCAP2, abi.AT_CLKTCK, abi.AT_PLATFORM, abi.AT_EXECFN, abi.AT_MINSIGSTKSZ} {
				if _, ok := aux[k]; !ok {
					t.Errorf("auxv lacks key %d", k)
				}
			}
			if readString(t, m, abi.Addr(aux[abi.AT_EXECFN])) != path {
				t.Error("AT_EXECFN is not the path")
			}
			if readString(t, m, abi.Addr(aux[abi.AT_PLATFORM])) != "x86_64" {
				t.Error("AT_PLATFORM is not x86_64")
			}
			if _, err := m.CopyIn(abi.Addr(aux[abi.AT_RANDOM]), make([]byte, 16)); err != nil {
				t.Error("AT_RANDOM bytes unreadable")
			}
			if aux[abi.AT_PAGESZ] != 4096 || aux[abi.AT_CLKTCK] != 100 || aux[abi.AT_PHENT] != 56 || aux[abi.AT_HWCAP] == 0 {
				t.Errorf("auxv constants wrong: %v", aux)
			}

			// The program headers in memory (AT_PHDR) are the file's.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			img, err := parseELF(f, st.Size(), AddrLimit)
			if err != nil {
				t.Fatal(err)
			}
			if aux[abi.AT_PHNUM] != uint64(img.hdr.Phnum) {
				t.Fatalf("AT_PHNUM %d, want %d", aux[abi.AT_PHNUM], img.hdr.Phnum)
			}
			fileTable := make([]byte, int(img.hdr.Phnum)*56)
			f.ReadAt(fileTable, int64(img.hdr.Phoff))
			memTable := make([]byte, len(fileTable))
			if _, err := m.CopyIn(abi.Addr(aux[abi.AT_PHDR]), memTable); err != nil || !bytes.Equal(memTable, fileTable) {
				t.Fatalf("AT_PHDR %#x does not hold the program headers (%v)", aux[abi.AT_PHDR], err)
			}
			var bias abi.Addr
			if tt.pie {
				bias = abi.Addr(aux[abi.AT_ENTRY] - img.hdr.Entry)
				if bias < ETDynBase || bias > ETDynBase+1<<30 || !bias.PageAligned() {
					t.Fatalf("PIE load bias %#x, want near ELF_ET_DYN_BASE %#x", uint64(bias), uint64(ETDynBase))
				}
			} else if aux[abi.AT_ENTRY] != img.hdr.Entry {
				t.Fatalf("AT_ENTRY %#x, want e_entry %#x", aux[abi.AT_ENTRY], img.hdr.Entry)
			}
			if tt.interp {
				if aux[abi.AT_BASE] == 0 || regs.RIP == aux[abi.AT_ENTRY] {
					t.Fatalf("dynamic program: AT_BASE %#x, rip %#x, AT_ENTRY %#x", aux[abi.AT_BASE], regs.RIP, aux[abi.AT_ENTRY])
				}
				if _, ok := m.Lookup(abi.Addr(regs.RIP)); !ok {
					t.Fatal("interpreter entry is not mapped")
				}
			} else if regs.RIP != aux[abi.AT_ENTRY] || aux[abi.AT_BASE] != 0 {
				t.Fatalf("rip %#x, AT_ENTRY %#x, AT_BASE %#x", regs.RIP, aux[abi.AT_ENTRY], aux[abi.AT_BASE])
			}
			maxEnd := checkSegments(t, m, f, img, bias)
			if tt.interp {
				lf, err := os.Open(img.interp)
				if err != nil {
					t.Fatal(err)
				}
				defer lf.Close()
				lst, _ := lf.Stat()
				limg, err := parseELF(lf, lst.Size(), AddrLimit)
				if err != nil {
					t.Fatal(err)
				}
				checkSegments(t, m, lf, limg, abi.Addr(aux[abi.AT_BASE]))
			}
			wantBrk, _ := maxEnd.RoundUp()
			if m.Brk() != wantBrk {
				t.Fatalf("brk starts at %#x, want %#x", uint64(m.Brk()), uint64(wantBrk))
			}
			if got := m.SetBrk(wantBrk + 5000); got != wantBrk+5000 {
				t.Fatalf("brk grow from the loaded image failed: %#x", uint64(got))
			}
			if real, _ := filepath.EvalSymlinks(path); task.Proc.Exe != real || len(task.Proc.Argv) != len(argv) || task.Proc.Mem != Memory(m) {
				t.Fatal("process fields not filled")
			}
			names := map[string]bool{}
			for _, mi := range m.Maps() {
				names[mi.Name] = true
			}
			real, _ := filepath.EvalSymlinks(path)
			if !names["[stack]"] || !names[real] {
				t.Fatalf("maps lack [stack] or the program: %v", names)
			}
			checkMachine(t, m, fm)
		})
	}
}

// checkSegments verifies that every PT_LOAD of img holds the file's bytes
// at bias, has the permissions of p_flags, and that the .bss, including the
// rest of the page after p_filesz, reads zero. It returns the highest end.
func checkSegments(t *testing.T, m *MM, f *os.File, img *elfImage, bias abi.Addr) abi.Addr {
	t.Helper()
	var maxEnd abi.Addr
	for _, p := range img.loads {
		want := make([]byte, p.Filesz)
		f.ReadAt(want, int64(p.Off))
		got := make([]byte, p.Filesz)
		va := bias + abi.Addr(p.Vaddr)
		if _, err := m.CopyIn(va, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("segment at %#x differs from the file (%v)", uint64(va), err)
		}
		if p.Memsz > p.Filesz {
			bssStart := va + abi.Addr(p.Filesz)
			bssEnd, _ := (va + abi.Addr(p.Memsz)).RoundUp()
			bss := make([]byte, bssEnd-bssStart)
			if _, err := m.CopyIn(bssStart, bss); err != nil || !bytes.Equal(bss, make([]byte, len(bss))) {
				t.Fatalf(".bss [%#x, %#x) not zero up to the page end (%v)", uint64(bssStart), uint64(bssEnd), err)
			}
		}
		prot, ok := m.Lookup(va)
		if !ok || prot != hvf.Prot(segProt(p.Flags)) {
			t.Fatalf("segment at %#x has prot %v, want %v", uint64(va), prot, segProt(p.Flags))
		}
		maxEnd = max(maxEnd, va+abi.Addr(p.Memsz))
	}
	return maxEnd
}

func TestStartProcessErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want abi.Errno
		msg  string
	}{
		{"missing file", filepath.Join(dir, "nope"), abi.ENOENT, "nope"},
		{"directory", dir, abi.EACCES, "not a regular file"},
		{"not executable", write("noexec", []byte("\x7fELF"), 0o644), abi.EACCES, "not executable"},
		{"text file", write("text", []byte("hello world\n"), 0o755), abi.ENOEXEC, "not an ELF file"},
		{"script with a missing interpreter", write("script", []byte("#!/nonexistent/sh\necho hi\n"), 0o755), abi.ENOENT, "interpreter /nonexistent/sh"},
		{"script naming no interpreter", write("script2", []byte("#!  \necho hi\n"), 0o755), abi.ENOEXEC, "no interpreter"},
		{"script running itself", write("loop", []byte("#!"+filepath.Join(dir, "loop")+"\n"), 0o755), abi.ELOOP, "nested"},
		{"script whose interpreter is not ELF", write("script3", []byte("#!"+filepath.Join(dir, "text")+"\n"), 0o755), abi.ENOEXEC, "not an ELF"},
		{"empty file", write("empty", nil, 0o755), abi.ENOEXEC, "not an ELF file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: &fakeBackend{}}
			task, err := k.StartProcess(tt.path, []string{tt.path}, nil)
			if task != nil {
				task.Proc.MM.Close()
			}
			var errno abi.Errno
			if !errors.As(err, &errno) || errno != tt.want || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("StartProcess error %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
}

// elfWith returns a copy of a valid ELF with edit applied.
func elfWith(base []byte, edit func(b []byte)) []byte {
	b := append([]byte(nil), base...)
	edit(b)
	return b
}

// phdrAt returns the offset of program header i in b.
func phdrAt(b []byte, i int) int {
	return int(binary.LittleEndian.Uint64(b[32:])) + i*56
}

// firstLoad returns the index of the first PT_LOAD header of b.
func firstLoad(b []byte) int {
	n := int(binary.LittleEndian.Uint16(b[56:]))
	for i := 0; i < n; i++ {
		if binary.LittleEndian.Uint32(b[phdrAt(b, i):]) == abi.PT_LOAD {
			return i
		}
	}
	return -1
}

func TestMalformedELFIsENOEXEC(t *testing.T) {
	good, err := os.ReadFile(buildC(t, "-static"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"truncated header", good[:40], "truncated ELF header"},
		{"truncated program headers", good[:phdrAt(good, 1)], "past the end of the file"},
		{"truncated segment data", good[:len(good)/2], "past the end of the file"},
		{"32-bit class", elfWith(good, func(b []byte) { b[abi.EI_CLASS] = abi.ELFCLASS32 }), "ELFCLASS32"},
		{"big endian", elfWith(good, func(b []byte) { b[abi.EI_DATA] = abi.ELFDATA2MSB }), "big-endian"},
		{"aarch64", elfWith(good, func(b []byte) { le.PutUint16(b[18:], abi.EM_AARCH64) }), "another architecture (EM_AARCH64)"},
		{"unknown machine", elfWith(good, func(b []byte) { le.PutUint16(b[18:], 9999) }), "e_machine 9999"},
		{"object file", elfWith(good, func(b []byte) { le.PutUint16(b[16:], abi.ET_REL) }), "ET_REL"},
		{"bad phentsize", elfWith(good, func(b []byte) { le.PutUint16(b[54:], 32) }), "program header entry size"},
		{"no program headers", elfWith(good, func(b []byte) { le.PutUint16(b[56:], 0) }), "no program headers"},
		{"phoff past the end", elfWith(good, func(b []byte) { le.PutUint64(b[32:], 1<<62) }), "past the end of the file"},
		{"phoff wraps", elfWith(good, func(b []byte) { le.PutUint64(b[32:], ^uint64(0)-10) }), "past the end of the file"},
		{"filesz above memsz", elfWith(good, func(b []byte) {
			p := phdrAt(b, firstLoad(b))
			le.PutUint64(b[p+32:], le.Uint64(b[p+40:])+1)
		}), "exceeds p_memsz"},
		{"offset not congruent", elfWith(good, func(b []byte) {
			p := phdrAt(b, firstLoad(b))
			le.PutUint64(b[p+16:], le.Uint64(b[p+16:])+8)
		}), "differ modulo the page size"},
		{"segment outside the address space", elfWith(good, func(b []byte) {
			p := phdrAt(b, firstLoad(b))
			le.PutUint64(b[p+16:], 1<<50)
		}), "outside the address space"},
		{"segment wraps", elfWith(good, func(b []byte) {
			p := phdrAt(b, firstLoad(b))
			le.PutUint64(b[p+16:], ^uint64(0)&^0xfff)
		}), "outside the address space"},
		{"no PT_LOAD", elfWith(good, func(b []byte) {
			for i := 0; i < int(le.Uint16(b[56:])); i++ {
				if le.Uint32(b[phdrAt(b, i):]) == abi.PT_LOAD {
					le.PutUint32(b[phdrAt(b, i):], abi.PT_NOTE)
				}
			}
		}), "no loadable"},
		{"segment below mmap_min_addr", elfWith(good, func(b []byte) {
			p := phdrAt(b, firstLoad(b))
			le.PutUint64(b[p+16:], le.Uint64(b[p+16:])&0xfff)
		}), "below the lowest mappable address"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad"+string(rune('a'+i)))
			if err := os.WriteFile(path, tt.b, 0o755); err != nil {
				t.Fatal(err)
			}
			k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: &fakeBackend{}}
			task, err := k.StartProcess(path, []string{path}, nil)
			if task != nil {
				task.Proc.MM.Close()
			}
			if !errors.Is(err, abi.ENOEXEC) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want ENOEXEC naming the file and saying %q", err, tt.msg)
			}
		})
	}
}

func TestStackArgumentLimits(t *testing.T) {
	path := buildC(t, "-static")
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: &fakeBackend{}}
	tests := []struct {
		name string
		argv []string
	}{
		{"one string over MAX_ARG_STRLEN", []string{strings.Repeat("a", maxArgStrlen)}},
		{"total over a quarter of the stack", func() []string {
			var a []string
			for i := 0; i < 100; i++ {
				a = append(a, strings.Repeat("b", 30000))
			}
			return a
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, err := k.StartProcess(path, tt.argv, nil)
			if task != nil {
				task.Proc.MM.Close()
			}
			if !errors.Is(err, abi.E2BIG) {
				t.Fatalf("StartProcess: %v, want E2BIG", err)
			}
		})
	}
}

func TestExecReplacesTheImageOnTheSameMachine(t *testing.T) {
	hello := buildC(t, "-static-pie")
	task, fm := startTest(t, buildC(t, "-static"), []string{"first"}, nil)
	old := task.Proc.MM
	mustMmap(t, old, 0, 4*pg, rw, abi.MAP_SHARED|abi.MAP_ANONYMOUS)
	x, err := OpenExecutable(hello)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	img, err := task.Proc.Exec(x, []string{"second", "x"}, []string{"E=1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Proc.MM.Close() })
	m := task.Proc.MM
	if m == old || task.Proc.Mem != Memory(m) || task.Proc.Argv[0] != "second" {
		t.Fatal("process still refers to the old image")
	}
	task.CPU.SetFSBase(0x1234)
	task.ResetRegisters(img)
	if r := task.CPU.Regs(); r.RIP != uint64(img.Entry) || r.RSP != uint64(img.SP) || task.CPU.FSBase() != 0 {
		t.Fatalf("registers after exec: rip %#x rsp %#x fs %#x", r.RIP, r.RSP, task.CPU.FSBase())
	}
	if argc := readWord(t, m, img.SP); argc != 2 {
		t.Fatalf("argc %d", argc)
	}
	// The machine holds only the new image's mappings.
	checkMachine(t, m, fm)
}
