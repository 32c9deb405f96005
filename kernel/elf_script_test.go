package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestReadShebang(t *testing.T) {
	long := "#!/bin/" + strings.Repeat("x", 300) + "\n"
	tests := []struct {
		name     string
		in       string
		isScript bool
		want     script
		err      error
	}{
		{"plain", "#!/bin/sh\necho", true, script{interp: "/bin/sh"}, nil},
		{"argument", "#!/usr/bin/env python3\n", true, script{interp: "/usr/bin/env", arg: "python3", hasArg: true}, nil},
		{"one argument with spaces, trimmed", "#! \t/bin/sh  -e -x \t\n", true, script{interp: "/bin/sh", arg: "-e -x", hasArg: true}, nil},
		{"no newline", "#!/bin/sh", true, script{interp: "/bin/sh"}, nil},
		{"carriage return is part of the name", "#!/bin/sh\r\n", true, script{interp: "/bin/sh\r"}, nil},
		{"no interpreter", "#!\n", false, script{}, abi.ENOEXEC},
		{"interpreter past 256 bytes", long, false, script{}, abi.ENOEXEC},
		{"argument cut at 256 bytes", "#!/bin/sh " + strings.Repeat("a", 300), true, script{interp: "/bin/sh", arg: strings.Repeat("a", 256-10), hasArg: true}, nil},
		{"ELF", "\x7fELF", false, script{}, nil},
		{"one byte", "#", false, script{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok, err := readShebang(bytes.NewReader([]byte(tt.in)))
			if ok != tt.isScript || sc != tt.want || (err == nil) != (tt.err == nil) {
				t.Fatalf("readShebang = %+v, %v, %v; want %+v, %v, %v", sc, ok, err, tt.want, tt.isScript, tt.err)
			}
		})
	}
}

func TestScriptsRunTheirInterpreter(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox missing (apt package busybox-static)")
	}
	dir := t.TempDir()
	inner := filepath.Join(dir, "inner")
	outer := filepath.Join(dir, "outer")
	os.WriteFile(inner, []byte("#!/bin/busybox sh -e\necho inner\n"), 0o755)
	os.WriteFile(outer, []byte("#!"+inner+"\necho outer\n"), 0o755)
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"one script", inner, []string{"/bin/busybox", "sh -e", inner, "a1", "a2"}},
		{"script run by a script", outer, []string{"/bin/busybox", "sh -e", inner, outer, "a1", "a2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, _ := startTest(t, tt.path, []string{"argv0", "a1", "a2"}, nil)
			m := task.Proc.MM
			sp := abi.Addr(task.CPU.Regs().RSP)
			var got []string
			for i := uint64(0); i < readWord(t, m, sp); i++ {
				got = append(got, readString(t, m, abi.Addr(readWord(t, m, sp+8+abi.Addr(8*i)))))
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(task.Proc.Argv, tt.want) {
				t.Fatalf("argv on the stack %q, Process.Argv %q; want %q", got, task.Proc.Argv, tt.want)
			}
			real, _ := filepath.EvalSymlinks("/bin/busybox")
			if task.Proc.Exe != real {
				t.Fatalf("Exe = %s, want the interpreter %s", task.Proc.Exe, real)
			}
			for _, e := range task.Proc.Auxv {
				if e.Key == abi.AT_EXECFN && readString(t, m, abi.Addr(e.Val)) != tt.path {
					t.Fatalf("AT_EXECFN is not the script path")
				}
			}
		})
	}
}

func TestOpenExecutableWithResolvesEveryPathThroughTheOpener(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox missing (apt package busybox-static)")
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	b, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(root, "bin", "sh"), b, 0o755)
	os.WriteFile(filepath.Join(root, "script"), []byte("#!/bin/sh\n"), 0o755)
	var opened []string
	open := func(p string) (*os.File, error) {
		opened = append(opened, p)
		return os.Open(filepath.Join(root, p))
	}
	x, err := OpenExecutableWith("/script", open)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if !reflect.DeepEqual(opened, []string{"/script", "/bin/sh"}) {
		t.Fatalf("opened %q", opened)
	}
	if x.Resolved != filepath.Join(root, "bin", "sh") {
		t.Fatalf("Resolved = %s", x.Resolved)
	}
}
