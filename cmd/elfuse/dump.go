package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/supervisor"
)

const dumpUsage = `usage: elfuse dump [--json] [ID]

Prints the live process tree of a running elfuse: every guest process with
its pids, host pid, state, argv, cwd, threads, descriptors, memory regions
and signals. ID is the supervisor's host pid; without it, the only running
elfuse of this user is dumped. SIGUSR1 to an elfuse prints the same text on
its stderr.

Flags:
`

// runDump implements `elfuse dump`.
func runDump(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("elfuse dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON document: an array of processes")
	fs.Usage = func() {
		fmt.Fprint(stderr, dumpUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "elfuse dump: at most one ID (see elfuse dump --help)")
		return 2
	}
	var id int
	if fs.NArg() == 1 {
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "elfuse dump: bad ID %q: want a supervisor's host pid\n", fs.Arg(0))
			return 2
		}
		id = n
	} else {
		ids, err := supervisor.Supervisors()
		if err != nil {
			fmt.Fprintf(stderr, "elfuse dump: %v\n", err)
			return 1
		}
		switch len(ids) {
		case 0:
			fmt.Fprintln(stderr, "elfuse dump: no running elfuse found")
			return 1
		case 1:
			id = ids[0]
		default:
			s := make([]string, len(ids))
			for i, n := range ids {
				s[i] = strconv.Itoa(n)
			}
			fmt.Fprintf(stderr, "elfuse dump: several elfuse running, pick one ID: %s\n", strings.Join(s, " "))
			return 1
		}
	}
	procs, err := supervisor.FetchDump(id)
	if err != nil {
		fmt.Fprintf(stderr, "elfuse dump: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(procs); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "elfuse %d: ", id)
	if err := supervisor.WriteDumpText(stdout, procs); err != nil {
		return 1
	}
	return 0
}
