// Command elfuse runs unmodified x86-64 Linux programs in hardware virtual
// machines, one VM per guest process, with a Linux-compatible kernel in Go.
//
//	elfuse [flags] [--] PROGRAM ARGS...
//
// The same binary is also the guestproc: the supervisor re-executes it with
// a hidden first argument for every guest process.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	"github.com/elfuse/elfuse/guestproc"
	"github.com/elfuse/elfuse/supervisor"
	"github.com/hashicorp/go-hclog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `usage: elfuse [flags] [--] PROGRAM [ARGS...]

Runs the x86-64 Linux program PROGRAM in a virtual machine; every system call
it makes is served by elfuse's own kernel.

Flags:
`

func main() {
	if len(os.Args) > 2 && os.Args[1] == guestproc.Mode {
		sup, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "elfuse: bad guestproc invocation")
			os.Exit(1)
		}
		os.Exit(guestproc.Main(sup))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("elfuse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logLevel := fs.String("log-level", "warn", "log level: trace, debug, info, warn, error, off")
	timeout := fs.Int("timeout", 10, "seconds one uninterrupted guest run may last before the watchdog kicks it and logs its state (0: off); never kills")
	defaultBackend := os.Getenv("ELFUSE_BACKEND")
	if defaultBackend == "" {
		defaultBackend = "kvm"
	}
	backend := fs.String("backend", defaultBackend, "hypervisor backend: kvm, ptrace (software, no /dev/kvm needed) or auto (env ELFUSE_BACKEND sets the default)")
	maxProcs := fs.Int("max-procs", supervisor.DefaultMaxProcs, "most guest processes (zombies included) at once; fork past it fails with EAGAIN")
	showVersion := fs.Bool("version", false, "print the version and exit")
	help := fs.Bool("help", false, "print this help and exit")
	longUsage := func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, usage)
		fs.PrintDefaults()
	}
	// A bad flag gets the flag package's one-line error plus a pointer to
	// --help, not the whole help text.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			longUsage()
			return 0
		}
		fmt.Fprintln(stderr, "elfuse: see elfuse --help")
		return 2
	}
	switch {
	case *help:
		longUsage()
		return 0
	case *showVersion:
		fmt.Fprintf(stdout, "elfuse %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "elfuse: no program given (see elfuse --help)")
		return 2
	}
	if *maxProcs < 1 {
		fmt.Fprintln(stderr, "elfuse: --max-procs must be at least 1")
		return 2
	}
	if *timeout < 0 {
		fmt.Fprintln(stderr, "elfuse: --timeout must be 0 (off) or a number of seconds")
		return 2
	}
	switch *backend {
	case "kvm", "ptrace", "auto":
	default:
		fmt.Fprintf(stderr, "elfuse: unknown --backend %q (want kvm, ptrace or auto)\n", *backend)
		return 2
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "elfuse: unknown --log-level %q\n", *logLevel)
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "elfuse", Level: level, Output: stderr})
	return supervisor.Run(supervisor.Config{
		Program:  fs.Arg(0),
		Args:     fs.Args(),
		Env:      os.Environ(),
		Backend:  *backend,
		Timeout:  *timeout,
		LogLevel: *logLevel,
		MaxProcs: *maxProcs,
		Log:      log,
	})
}
