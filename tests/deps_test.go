package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

const module = "github.com/elfuse/elfuse"

// Third-party packages by the name DESIGN.md's table uses for them.
var thirdParty = map[string][]string{
	// x/sys/cpu (host CPU features) ships in the same module as unix.
	"unix":    {"golang.org/x/sys/unix", "golang.org/x/sys/cpu"},
	"hclog":   {"github.com/hashicorp/go-hclog"},
	"netlink": {"github.com/vishvananda/netlink", "github.com/vishvananda/netns"},
}

// importRule is one row of DESIGN.md's "who may import whom" table: the
// packages under prefix may import the standard library, their own
// subtree, and what mayImport names (module-relative paths, each with its
// subtree, or a thirdParty key). "*" allows anything.
type importRule struct {
	prefix    string
	mayImport []string
	ownTree   bool // may import its own subpackages
}

var importRules = []importRule{
	{prefix: "kernel/abi", mayImport: nil},
	{prefix: "hvf", mayImport: []string{"unix", "hclog"}, ownTree: true},
	{prefix: "kernel", mayImport: []string{"kernel/abi", "hvf=", "unix", "hclog"}, ownTree: true},
	{prefix: "ipc", mayImport: []string{"kernel/abi", "unix"}, ownTree: true},
	{prefix: "guestproc", mayImport: []string{"hvf", "kernel", "ipc", "unix", "hclog"}, ownTree: true},
	{prefix: "supervisor", mayImport: []string{"ipc", "kernel/abi", "unix", "hclog", "netlink"}, ownTree: true},
	{prefix: "cmd/elfuse", mayImport: []string{"supervisor", "guestproc", "hclog"}, ownTree: true},
	{prefix: "tests", mayImport: []string{"*"}},
	{prefix: "bench", mayImport: []string{"*"}},
}

// goPackage is the part of `go list -json` output the check needs.
type goPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// ruleFor returns the most specific rule for a module-relative path.
func ruleFor(rel string) (importRule, bool) {
	best, found := importRule{}, false
	for _, r := range importRules {
		if within(rel, r.prefix) && (!found || len(r.prefix) > len(best.prefix)) {
			best, found = r, true
		}
	}
	return best, found
}

func allowed(r importRule, rel, imp string, std map[string]bool) bool {
	if std[imp] {
		return true
	}
	for _, m := range r.mayImport {
		if m == "*" {
			return true
		}
		if tp, ok := thirdParty[m]; ok {
			for _, p := range tp {
				if within(imp, p) {
					return true
				}
			}
			continue
		}
		// "hvf=" allows exactly the facade, not its backends.
		if exact, ok := strings.CutSuffix(m, "="); ok {
			if imp == module+"/"+exact {
				return true
			}
			continue
		}
		if within(imp, module+"/"+m) {
			return true
		}
	}
	return r.ownTree && within(imp, module+"/"+r.prefix)
}

// checkImports returns every import in pkgs that breaks the table.
func checkImports(pkgs []goPackage) []string {
	std := map[string]bool{"C": true, "unsafe": true}
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	var bad []string
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		r, ok := ruleFor(rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: package not in DESIGN.md's import table", rel))
			continue
		}
		for _, imp := range p.Imports {
			if !allowed(r, rel, imp, std) {
				bad = append(bad, fmt.Sprintf("%s imports %s (rule for %s allows %v)", rel, imp, r.prefix, r.mayImport))
			}
		}
		// The two directions DESIGN.md spells out, checked transitively.
		for _, d := range p.Deps {
			switch {
			case within(rel, "kernel") && (within(d, module+"/supervisor") || within(d, module+"/ipc")):
				bad = append(bad, fmt.Sprintf("%s depends on %s: the kernel talks out only through its Host interface", rel, d))
			case within(rel, "hvf") && within(d, module+"/kernel"):
				bad = append(bad, fmt.Sprintf("%s depends on %s: hvf knows nothing of Linux", rel, d))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-e", "-json=ImportPath,Standard,Imports,Deps", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestPackageImportsFollowDesign(t *testing.T) {
	pkgs := listPackages(t)
	var mine int
	for _, p := range pkgs {
		if strings.HasPrefix(p.ImportPath, module+"/") {
			mine++
		}
	}
	if mine == 0 {
		t.Fatal("go list found no package of the module")
	}
	if bad := checkImports(pkgs); len(bad) > 0 {
		t.Errorf("imports against DESIGN.md's table:\n%s", strings.Join(bad, "\n"))
	}
}

func TestImportCheckCatchesViolations(t *testing.T) {
	std := goPackage{ImportPath: "fmt", Standard: true}
	tests := []struct {
		name string
		pkg  goPackage
		want string // "" means allowed
	}{
		{"kernel may use hvf and abi", goPackage{ImportPath: module + "/kernel", Imports: []string{"fmt", module + "/hvf", module + "/kernel/abi", "golang.org/x/sys/unix"}}, ""},
		{"kernel must not import ipc", goPackage{ImportPath: module + "/kernel", Imports: []string{module + "/ipc"}}, "kernel imports " + module + "/ipc"},
		{"kernel must not reach supervisor transitively", goPackage{ImportPath: module + "/kernel/fs", Deps: []string{module + "/supervisor"}}, "Host interface"},
		{"kernel must not pick a backend", goPackage{ImportPath: module + "/kernel", Imports: []string{module + "/hvf/ptrace"}}, "imports " + module + "/hvf/ptrace"},
		{"hvf must not import kernel", goPackage{ImportPath: module + "/hvf/ptrace", Imports: []string{module + "/kernel/abi"}}, "hvf/ptrace imports"},
		{"abi is a leaf", goPackage{ImportPath: module + "/kernel/abi", Imports: []string{"golang.org/x/sys/unix"}}, "kernel/abi imports golang.org/x/sys/unix"},
		{"supervisor may use netlink", goPackage{ImportPath: module + "/supervisor", Imports: []string{"github.com/vishvananda/netlink", module + "/ipc"}}, ""},
		{"supervisor must not import kernel", goPackage{ImportPath: module + "/supervisor", Imports: []string{module + "/kernel"}}, "supervisor imports"},
		{"unknown package is reported", goPackage{ImportPath: module + "/util"}, "not in DESIGN.md"},
		{"tests import anything", goPackage{ImportPath: module + "/tests/testutil", Imports: []string{module + "/kernel", "github.com/x/y"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(checkImports([]goPackage{std, tt.pkg}), "\n")
			if tt.want == "" && got != "" {
				t.Fatalf("unexpected violation: %s", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("violations %q do not mention %q", got, tt.want)
			}
		})
	}
}
