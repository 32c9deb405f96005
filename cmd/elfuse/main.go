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
	"strings"

	"github.com/elfuse/elfuse/guestproc"
	"github.com/elfuse/elfuse/supervisor"
	"github.com/hashicorp/go-hclog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `usage: elfuse [flags] [--] PROGRAM [ARGS...]
       elfuse dump [--json] [ID]   (the live process tree of a running elfuse)

Runs the x86-64 Linux program PROGRAM in a virtual machine; every system call
it makes is served by elfuse's own kernel.

Flags:
`

// init keeps a guestproc's main goroutine on the process's main thread
// (LockOSThread in an init function does): the thread whose id is the
// host pid then runs the first guest thread's vCPU, so what another
// process aims at that host pid (setpriority, sched_setscheduler, the
// nice in /proc/PID/stat) reaches the thread that runs the guest.
func init() {
	if len(os.Args) > 2 && os.Args[1] == guestproc.Mode {
		runtime.LockOSThread()
	}
}

func main() {
	quietSysmon()
	if len(os.Args) > 2 && os.Args[1] == guestproc.Mode {
		sup, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "elfuse: bad guestproc invocation")
			os.Exit(1)
		}
		os.Exit(guestproc.Main(sup, &theAnchor)) // sysmon.go
	}
	if len(os.Args) > 1 && os.Args[1] == "dump" {
		os.Exit(runDump(os.Args[2:], os.Stdout, os.Stderr)) // dump.go
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
	backend := fs.String("backend", defaultBackend, "hypervisor backend: kvm, ptrace (software, no /dev/kvm needed) or auto: kvm unless /dev/kvm is missing or PVM (env ELFUSE_BACKEND sets the default)")
	sysroot := fs.String("sysroot", "", "host directory the guest sees as / (every path lookup stays inside it)")
	var binds, envs listFlag
	fs.Var(&binds, "bind", "HOST[:GUEST][:ro]: show host path HOST at guest path GUEST (default the same), read-only with :ro (repeatable)")
	workdir := fs.String("workdir", "", "the guest's initial working directory (a guest path; default / under --sysroot, else the current one)")
	fs.Var(&envs, "env", "K=V: set K in the guest's environment; K alone copies the host's value (repeatable)")
	clearEnv := fs.Bool("clear-env", false, "start the guest with an empty environment (before --env)")
	maxProcs := fs.Int("max-procs", supervisor.DefaultMaxProcs, "most guest processes (zombies included) at once; fork past it fails with EAGAIN")
	var trace traceFlag
	fs.Var(&trace, "trace", "print a line per syscall of every guest process, like strace -f; --trace=FILE writes them to host file FILE (trace.go)")
	traceOut := fs.String("trace-out", "", "write a timeline of every process, exec, signal and syscall of the tree to host file `FILE.json` (Chrome trace format, opens in Perfetto)")
	traceOutMin := fs.Int64("trace-out-min-us", 0, "with --trace-out, drop the syscalls shorter than `N` µs")
	netMode := fs.String("net", supervisor.NetHost, "network: host (the host's) or none (a fresh network namespace with only loopback)")
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
	net, err := supervisor.ParseNet(*netMode)
	if err != nil {
		fmt.Fprintf(stderr, "elfuse: %v\n", err)
		return 2
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "elfuse: unknown --log-level %q\n", *logLevel)
		return 2
	}
	cfg := supervisor.Config{
		Program:  fs.Arg(0),
		Args:     fs.Args(),
		Env:      guestEnv(os.Environ(), *clearEnv, envs),
		Backend:  *backend,
		Timeout:  *timeout,
		LogLevel: *logLevel,
		Sysroot:  *sysroot,
		Workdir:  *workdir,
		MaxProcs: *maxProcs,
		Net:      net,
		Anchor:   &theAnchor, // sysmon.go
	}
	if *sysroot != "" {
		if err := supervisor.CheckSysroot(*sysroot); err != nil {
			fmt.Fprintf(stderr, "elfuse: %v\n", err)
			return 2
		}
	}
	for _, b := range binds {
		pb, err := supervisor.ParseBind(b)
		if err != nil {
			fmt.Fprintf(stderr, "elfuse: %v\n", err)
			return 2
		}
		cfg.Binds = append(cfg.Binds, pb)
	}
	if trace.on {
		f, err := supervisor.OpenTrace(trace.file)
		if err != nil {
			fmt.Fprintf(stderr, "elfuse: %v\n", err)
			return 2
		}
		defer f.Close()
		cfg.Trace = f
	}
	if *traceOut != "" {
		f, err := supervisor.OpenTraceOut(*traceOut)
		if err != nil {
			fmt.Fprintf(stderr, "elfuse: %v\n", err)
			return 2
		}
		cfg.TraceOut, cfg.TraceOutMinUs = f, *traceOutMin
	}
	cfg.Log = hclog.New(&hclog.LoggerOptions{Name: "elfuse", Level: level, Output: stderr})
	code := supervisor.Run(cfg)
	if cfg.TraceOut != nil {
		supervisor.CloseTraceOut(cfg.TraceOut, code) // after every guestproc ended
	}
	return code
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// guestEnv builds the guest's environment: the host's (or nothing with
// --clear-env), then each --env K=V in order (K alone copies the host's
// value, if any); a later K replaces an earlier one in place.
func guestEnv(host []string, clear bool, sets []string) []string {
	var env []string
	if !clear {
		env = append(env, host...)
	}
	for _, kv := range sets {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		key := kv[:strings.IndexByte(kv, '=')+1]
		replaced := false
		for i, e := range env {
			if strings.HasPrefix(e, key) {
				env[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	return env
}
