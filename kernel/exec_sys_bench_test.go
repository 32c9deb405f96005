package kernel

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"github.com/hashicorp/go-hclog"
)

// BenchmarkExecveStaticProgram measures one execve of a static glibc
// program on a fake machine: argument copy, open and validation, the old
// address space torn down, the new one loaded (file data copied into RAM)
// and the initial stack built. Backend costs (Machine.Map/Unmap) come on
// top of it.
func BenchmarkExecveStaticProgram(b *testing.B) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skip("gcc not installed: cannot build a guest program")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(src, []byte(helloC), 0o644); err != nil {
		b.Fatal(err)
	}
	prog := filepath.Join(dir, "hello")
	if msg, err := exec.Command(gcc, "-O2", "-static", "-o", prog, src).CombinedOutput(); err != nil {
		b.Skipf("gcc -static: %v\n%s", err, msg)
	}
	k := &Kernel{Config: Config{Log: hclog.NewNullLogger()}, Backend: &fakeBackend{}, Host: &execTestHost{}}
	task, err := k.StartProcess(prog, []string{"first"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { task.Proc.MM.Close() }()
	for b.Loop() {
		// The arguments live in the current image; place them anew each time.
		at, err := task.Proc.MM.Mmap(0, abi.PageSize, abi.PROT_READ|abi.PROT_WRITE, abi.MAP_PRIVATE|abi.MAP_ANONYMOUS, -1, 0)
		if err != nil {
			b.Fatal(err)
		}
		task.CopyOut(at, append([]byte(prog), 0))
		arg := at + 512
		task.CopyOut(arg, []byte("x\x00"))
		var vec [16]byte
		vec[0], vec[1] = byte(arg), byte(arg>>8)
		for i := 2; i < 8; i++ {
			vec[i] = byte(uint64(arg) >> (8 * i))
		}
		task.CopyOut(at+1024, vec[:])
		a := Args{uint64(at), uint64(at + 1024), 0}
		if _, err := Execve(task, &a); err != ErrNoReturn {
			b.Fatal(err)
		}
		if done, _ := task.Proc.Exited(); done {
			b.Fatal("exec killed the process")
		}
	}
}
