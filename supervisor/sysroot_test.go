package supervisor

import (
	"strings"
	"testing"

	"github.com/elfuse/elfuse/ipc"
)

func TestParseBindForms(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		in   string
		want ipc.Bind
		err  string
	}{
		{in: dir, want: ipc.Bind{Host: dir, Guest: dir}},
		{in: dir + ":/mnt/x", want: ipc.Bind{Host: dir, Guest: "/mnt/x"}},
		{in: dir + ":/mnt/x/:ro", want: ipc.Bind{Host: dir, Guest: "/mnt/x", ReadOnly: true}},
		{in: dir + ":ro", want: ipc.Bind{Host: dir, Guest: dir, ReadOnly: true}},
		{in: dir + ":/mnt/x:rw", want: ipc.Bind{Host: dir, Guest: "/mnt/x"}},
		{in: dir + ":relative", err: "not absolute"},
		{in: dir + ":/a:/b:ro", err: "want HOST[:GUEST][:ro]"},
		{in: ":/a", err: "empty path"},
		{in: dir + "/missing:/a", err: "no such file"},
	}
	for _, c := range cases {
		got, err := ParseBind(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseBind(%q) error %v, want one saying %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseBind(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestCheckSysrootWantsADirectory(t *testing.T) {
	dir := t.TempDir()
	if err := CheckSysroot(dir); err != nil {
		t.Errorf("CheckSysroot(dir): %v", err)
	}
	for _, bad := range []string{dir + "/missing", "/etc/passwd"} {
		if err := CheckSysroot(bad); err == nil {
			t.Errorf("CheckSysroot(%q) accepted", bad)
		}
	}
}
