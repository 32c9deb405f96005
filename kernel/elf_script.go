package kernel

import (
	"bytes"
	"io"

	"github.com/elfuse/elfuse/kernel/abi"
)

// "#!" scripts, as Linux's binfmt_script runs them.

const (
	// binprmBufSize is how much of a file Linux reads to recognise it.
	binprmBufSize = 256
	// maxScriptDepth is how many scripts may lead to the final ELF
	// (BINPRM_MAX_RECURSION).
	maxScriptDepth = 4
)

// script is one "#!" file: its path, interpreter and optional argument.
type script struct {
	path, interp, arg string
	hasArg            bool
}

// readShebang reads a "#!" line. The interpreter is the first word after
// "#!" (spaces and tabs skipped); the rest of the line, trimmed of spaces
// and tabs, is one optional argument. A line longer than 256 bytes fails
// unless the interpreter name ends inside them (then the argument is what
// fits), as on Linux.
func readShebang(r io.ReaderAt) (script, bool, error) {
	buf := make([]byte, binprmBufSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return script{}, false, abi.EIO
	}
	buf = buf[:n]
	if n < 2 || buf[0] != '#' || buf[1] != '!' {
		return script{}, false, nil
	}
	line := buf[2:]
	truncated := n == binprmBufSize // a shorter file ends the line itself
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, truncated = line[:i], false
	}
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' }
	line = bytes.TrimLeftFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	end := 0
	for end < len(line) && !isBlank(line[end]) {
		end++
	}
	if end == 0 {
		return script{}, false, noexec("#! line names no interpreter")
	}
	if truncated && end == len(line) {
		return script{}, false, noexec("#! interpreter name longer than %d bytes", binprmBufSize)
	}
	sc := script{interp: string(line[:end])}
	arg := bytes.Trim(line[end:], " \t")
	if len(arg) > 0 {
		sc.arg, sc.hasArg = string(arg), true
	}
	return sc, true, nil
}

// Argv returns the argument vector the loaded program sees: argv itself
// for an ELF, and for each script level [interp, arg?, script path,
// argv[1:]...] as binfmt_script builds it.
func (x *Executable) Argv(argv []string) []string {
	out := append([]string(nil), argv...)
	for _, sc := range x.scripts {
		head := []string{sc.interp}
		if sc.hasArg {
			head = append(head, sc.arg)
		}
		head = append(head, sc.path)
		if len(out) > 0 {
			out = out[1:]
		}
		out = append(head, out...)
	}
	return out
}
