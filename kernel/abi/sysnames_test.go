package abi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sysConsts parses the SYS_* constants of a Go source file.
func sysConsts(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := map[string]uint64{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.INT {
			return true
		}
		for _, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "SYS_") {
				continue
			}
			v, err := strconv.ParseUint(lit.Value, 0, 64)
			if err != nil {
				t.Fatalf("%s: %v", name.Name, err)
			}
			out[name.Name] = v
		}
		return true
	})
	return out
}

func TestSyscallNamesMatchSysno(t *testing.T) {
	consts := sysConsts(t, "sysno.go")
	if len(consts) != len(SyscallNames) {
		t.Errorf("sysno.go has %d numbers, SyscallNames %d", len(consts), len(SyscallNames))
	}
	for c, nr := range consts {
		want := strings.ToLower(strings.TrimPrefix(c, "SYS_"))
		if got := SyscallName(nr); got != want {
			t.Errorf("SyscallName(%d) = %q, want %q (%s)", nr, got, want, c)
		}
	}
}

func TestSyscallNumbersAgreeWithXSysUnix(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Skipf("cannot locate golang.org/x/sys sources (go list: %v)", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "unix", "zsysnum_linux_amd64.go")
	theirs := sysConsts(t, path)
	if len(theirs) < 300 {
		t.Fatalf("only %d SYS_ constants in %s", len(theirs), path)
	}
	ours := sysConsts(t, "sysno.go")
	// x/sys spells a few names differently from the kernel table.
	alias := map[string]string{"SYS_FSTATAT": "SYS_NEWFSTATAT"}
	for name, nr := range theirs {
		if a, ok := alias[name]; ok {
			name = a
		}
		if o, ok := ours[name]; ok && o != nr {
			t.Errorf("%s: ours %d, x/sys %d", name, o, nr)
		}
	}
	for name, nr := range ours {
		if v, ok := theirs[name]; ok && v != nr {
			t.Errorf("%s: ours %d, x/sys %d", name, nr, v)
		}
	}
}
