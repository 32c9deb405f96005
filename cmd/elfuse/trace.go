package main

// traceFlag is --trace[=FILE]: a boolean flag that may carry a file name.
// `--trace` alone writes to stderr; `--trace FILE` is not accepted (FILE
// would be taken for the program), as with strace's -o.
type traceFlag struct {
	on   bool
	file string
}

func (f *traceFlag) IsBoolFlag() bool { return true }

func (f *traceFlag) String() string {
	if f == nil || !f.on {
		return ""
	}
	return f.file
}

func (f *traceFlag) Set(v string) error {
	switch v {
	case "true":
		f.on, f.file = true, ""
	case "false":
		f.on, f.file = false, ""
	default:
		f.on, f.file = true, v
	}
	return nil
}
