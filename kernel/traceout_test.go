package kernel

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// decodeEvents parses the lines written to buf as the supervisor's
// opening and closing would wrap them, and returns the events.
func decodeEvents(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" && !strings.HasSuffix(l, "},\n") {
			t.Fatalf("event line %q does not end in \"},\\n\"", l)
		}
	}
	doc := `{"traceEvents":[` + "\n" + buf.String() + `{"ph":"M","name":"end","pid":0,"tid":0}]}`
	var file struct{ TraceEvents []map[string]any }
	if err := json.Unmarshal([]byte(doc), &file); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return file.TraceEvents[:len(file.TraceEvents)-1]
}

func TestTraceOutEventsAreJSON(t *testing.T) {
	var buf bytes.Buffer
	o := NewTraceOut(&buf, 0)
	odd := "q\"b\\s\n\t\x01\x7f\xff\xfeé"
	o.Syscall(7, 8, "read", 1_000_123_456, 1_000_125_000, `3, "`+odd+`", 4`, "4", false)
	o.ProcessName(7, odd)
	o.ThreadName(7, 8, "t")
	o.Exec(7, 8, 5000, "/bin/x", []string{"x", odd, ""})
	o.Signal(7, 8, 6000, "SIGCHLD", "{si_signo=SIGCHLD}")
	o.ForkFlow(7, 8, 7001, 9)
	o.ChildFlow(7, 9, 9, 7500, true)
	o.Life(9, "process x", 7000, 9000, 3<<8)
	o.Life(10, "process y", 7000, 9000, 9)
	evs := decodeEvents(t, &buf)
	if len(evs) != 9 {
		t.Fatalf("%d events, want 9:\n%s", len(evs), buf.String())
	}
	sc := evs[0]
	if sc["ph"] != "X" || sc["name"] != "read" || sc["pid"] != 7.0 || sc["tid"] != 8.0 {
		t.Errorf("syscall event %v", sc)
	}
	if sc["ts"] != 1000123.456 || sc["dur"] != 1.544 {
		t.Errorf("syscall ts %v dur %v, want 1000123.456 and 1.544 µs", sc["ts"], sc["dur"])
	}
	want := strings.ToValidUTF8("q\"b\\s\n\t\x01\x7f\xff", "\ufffd") + "\ufffdé"
	if got := evs[1]["args"].(map[string]any)["name"]; got != want {
		t.Errorf("process name %q, want %q", got, want)
	}
	argv := evs[3]["args"].(map[string]any)["argv"].([]any)
	if len(argv) != 3 || argv[0] != "x" || argv[1] != want || argv[2] != "" {
		t.Errorf("exec argv %q", argv)
	}
	if evs[5]["id"] != evs[6]["id"] || evs[5]["ph"] != "s" || evs[6]["ph"] != "f" || evs[6]["bp"] != "e" {
		t.Errorf("flow ends %v / %v", evs[5], evs[6])
	}
	if got := evs[7]["args"].(map[string]any)["status"]; got != "exited with 3" {
		t.Errorf("life status %q", got)
	}
	if got := evs[8]["args"].(map[string]any)["status"]; got != "killed by SIGKILL" {
		t.Errorf("life status %q", got)
	}
	if _, ok := evs[1]["ts"]; ok {
		t.Errorf("metadata event with a timestamp: %v", evs[1])
	}
}

func TestTraceOutMinDuration(t *testing.T) {
	var buf bytes.Buffer
	o := NewTraceOut(&buf, 10)
	o.Syscall(1, 1, "short", 0, 9_999, "", "0", false)
	o.Syscall(1, 1, "kept", 0, 9_999, "", "0", true)
	o.Syscall(1, 1, "long", 0, 10_000, "", "0", false)
	var names []string
	for _, e := range decodeEvents(t, &buf) {
		names = append(names, e["name"].(string))
	}
	if strings.Join(names, " ") != "kept long" {
		t.Errorf("events %q, want kept and long", names)
	}
}

func TestAppendMicros(t *testing.T) {
	for ns, want := range map[int64]string{0: "0", 999: "0.999", 1000: "1", 1001: "1.001", 123456789: "123456.789", -1500: "-1.500"} {
		if got := string(appendMicros(nil, ns)); got != want {
			t.Errorf("appendMicros(%d) = %q, want %q", ns, got, want)
		}
	}
}
