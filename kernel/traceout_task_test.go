package kernel

import (
	"bytes"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

// traceOutTask returns a task (pid 1, tid 1) whose memory holds data at
// traceBase and whose timeline goes to out.
func traceOutTask(data []byte, out *bytes.Buffer) *Task {
	k := &Kernel{Config: Config{TraceOut: NewTraceOut(out, 0)}, Host: fileTestHost{}}
	return &Task{Proc: &Process{Kernel: k, Mem: &traceMem{data: data}, Argv: []string{"prog"}}, Tid: 1}
}

func TestTraceOutSyscallEvents(t *testing.T) {
	mem := make([]byte, 0x100)
	copy(mem, "/etc/passwd\x00")
	mem[0x40+2] = byte(abi.CLONE_THREAD >> 16) // clone_args.flags
	type ev struct{ ph, name string }
	for _, tc := range []struct {
		name  string
		nr    uint64
		args  Args
		ret   uint64
		err   error
		want  []ev
		args0 string
	}{
		{"openat", abi.SYS_OPENAT, Args{uint64(0xffffff9c), traceBase, 0}, 3, nil,
			[]ev{{"X", "openat"}}, `AT_FDCWD, "/etc/passwd", O_RDONLY`},
		{"bad pointer", abi.SYS_OPENAT, Args{uint64(0xffffff9c), 0x9999000, 0}, 0, abi.EFAULT,
			[]ev{{"X", "openat"}}, `AT_FDCWD, 0x9999000, O_RDONLY`},
		{"fork", abi.SYS_FORK, Args{}, 5, nil, []ev{{"X", "fork"}, {"s", "fork"}}, ``},
		{"failed fork", abi.SYS_FORK, Args{}, 0, abi.EAGAIN, []ev{{"X", "fork"}}, ``},
		{"thread", abi.SYS_CLONE, Args{abi.CLONE_THREAD | abi.CLONE_VM}, 6, nil,
			[]ev{{"X", "clone"}, {"s", "fork"}, {"M", "thread_name"}, {"f", "fork"}}, ""},
		{"clone3 thread", abi.SYS_CLONE3, Args{traceBase + 0x40, 88}, 6, nil,
			[]ev{{"X", "clone3"}, {"s", "fork"}, {"M", "thread_name"}, {"f", "fork"}}, ""},
		{"clone3 bad args", abi.SYS_CLONE3, Args{0x9999000, 88}, 6, nil,
			[]ev{{"X", "clone3"}, {"s", "fork"}}, ""},
		{"unnamed", 999, Args{1}, 0, abi.ENOSYS, []ev{{"X", "syscall_0x3e7"}}, "0x1, 0, 0, 0, 0, 0"},
	} {
		var out bytes.Buffer
		task := traceOutTask(mem, &out)
		pre, start := task.traceBegin(tc.nr, &tc.args)
		task.traceEnd(tc.nr, pre, &tc.args, tc.ret, tc.err, start)
		evs := decodeEvents(t, &out)
		var got []ev
		for _, e := range evs {
			got = append(got, ev{e["ph"].(string), e["name"].(string)})
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		if tc.args0 != "" {
			if a := evs[0]["args"].(map[string]any)["args"]; a != tc.args0 {
				t.Errorf("%s: args %q, want %q", tc.name, a, tc.args0)
			}
		}
		for _, e := range evs {
			if e["ph"] == "s" && e["id"] != float64(FlowID(1, int32(tc.ret))) {
				t.Errorf("%s: flow id %v, want %d", tc.name, e["id"], FlowID(1, int32(tc.ret)))
			}
		}
	}
}
