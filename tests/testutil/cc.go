package testutil

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Compiler builds static guest programs from tests/testdata/*.c.
type Compiler struct {
	Name string   // subtest name: "gcc" or "musl"
	Argv []string // compiler and flags; source and -o are appended
}

// Compilers are the C toolchains every guest program is built with: glibc
// (which picks AVX2/AVX-512 string functions at run time) as a classic
// static executable (ET_EXEC) and as a static PIE (ET_DYN without
// PT_INTERP, loaded at a random base), and musl.
var Compilers = []Compiler{
	{Name: "gcc", Argv: []string{"gcc", "-static", "-O2", "-Wall"}},
	{Name: "gcc-static-pie", Argv: []string{"gcc", "-static-pie", "-fPIE", "-O2", "-Wall"}},
	{Name: "musl", Argv: []string{"musl-gcc", "-static", "-O2", "-Wall"}},
}

// Builder compiles each (compiler, source) pair once per test binary run
// into Dir.
type Builder struct {
	Dir   string
	mu    sync.Mutex
	built map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
	skip string
}

// Build returns the static binary of testdata/<src> compiled with cc. It
// skips (saying so) only when the compiler is not installed, and fails when
// the program does not compile.
func (b *Builder) Build(t testing.TB, cc Compiler, src string) string {
	t.Helper()
	key := cc.Name + "/" + src
	b.mu.Lock()
	if b.built == nil {
		b.built = map[string]*buildResult{}
	}
	r := b.built[key]
	if r == nil {
		r = &buildResult{}
		b.built[key] = r
	}
	b.mu.Unlock()
	r.once.Do(func() {
		if _, why := LookCommand(cc.Argv[0]); why != "" {
			r.skip = why
			return
		}
		srcPath, err := filepath.Abs(filepath.Join("testdata", src))
		if err != nil {
			r.err = err
			return
		}
		out := filepath.Join(b.Dir, cc.Name+"-"+strings.TrimSuffix(src, ".c"))
		argv := append(append([]string{}, cc.Argv...), "-o", out, srcPath)
		cmd := exec.Command(argv[0], argv[1:]...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("%s: %v\n%s", Quote(argv), err, msg)
			return
		}
		r.path = out
	})
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}
