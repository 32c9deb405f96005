package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDumpRejectsBadArgumentsAndReportsNoSupervisor(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no elfuse running", nil, 1, "no running elfuse"},
		{"no elfuse with that ID", []string{"--json", "999999999"}, 1, "no elfuse supervisor 999999999"},
		{"ID not a number", []string{"abc"}, 2, `bad ID "abc"`},
		{"ID not positive", []string{"0"}, 2, `bad ID "0"`},
		{"two IDs", []string{"1", "2"}, 2, "at most one ID"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			var stdout, stderr bytes.Buffer
			if code := runDump(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
