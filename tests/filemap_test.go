package tests

import "testing"

// TestProgramFileMappings compares private file mappings with native:
// read-only ones (which elfuse maps from the file itself), made writable by
// mprotect and written, forked, moved, and read past the end of the file.
// The files left behind must match too.
func TestProgramFileMappings(t *testing.T) {
	for _, mode := range []string{"mprotect_write", "past_eof", "two_views"} {
		t.Run(mode, func(t *testing.T) {
			runProgram(t, progCase{name: "filemap_" + mode, src: "filemap.c", args: []string{mode}, compareFiles: true})
		})
	}
}
