package ptrace

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/elfuse/elfuse/hvf"
)

// pidfdPid returns the pid a pidfd names, from its fdinfo.
func pidfdPid(t *testing.T, fd int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("fdinfo of %d has no Pid line: %q", fd, b)
	return ""
}

// TestWatchStubsNamesEveryStub: the watcher gets a pidfd of the stub New
// kept and of each stub NewMachine starts, naming that very process.
func TestWatchStubsNamesEveryStub(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, err := New(hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var got []int
	b.(hvf.StubWatcher).WatchStubs(func(fd int) { got = append(got, fd) })
	defer func() {
		for _, fd := range got {
			unix.Close(fd)
		}
	}()
	if len(got) != 1 {
		t.Fatalf("WatchStubs told %d pidfds of the kept stub, want 1", len(got))
	}
	var stubs []string
	for i := 0; i < 2; i++ { // the kept stub, then a new one
		hm, err := b.NewMachine(hvf.Config{})
		if err != nil {
			t.Fatalf("NewMachine: %v", err)
		}
		defer hm.Close()
		stubs = append(stubs, fmt.Sprint(hm.(*machine).pid))
	}
	if len(got) != 2 {
		t.Fatalf("%d pidfds told for 2 stubs", len(got))
	}
	for i, fd := range got {
		if p := pidfdPid(t, fd); p != stubs[i] {
			t.Errorf("pidfd %d names pid %s, want stub %s", i, p, stubs[i])
		}
	}
}
