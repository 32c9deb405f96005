// Command sysstats sums the per-process files guestprocs write under
// ELFUSE_SYSSTATS (guestproc/sysstats.go) and prints where the time went:
// per program, per syscall and per extra counter (supervisor round trips,
// injected stub calls, when a build counts them).
//
//	ELFUSE_SYSSTATS=/tmp/st elfuse --backend=ptrace -- gcc -c x.c
//	go run ./bench/sysstats /tmp/st.*
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/elfuse/elfuse/guestproc"
	"github.com/elfuse/elfuse/kernel"
)

type (
	counter = kernel.StatCounter
	file    = guestproc.StatsFile
)

type prog struct {
	procs             int
	start, run, end   int64
	runs, runNs, sysN uint64
	sysNs             uint64
	syscalls          map[string]*counter
	extra             map[string]*counter
}

func ms(ns uint64) float64 { return float64(ns) / 1e6 }

// add adds v to counter k of every map in into.
func add(v counter, k string, into ...map[string]*counter) {
	for _, m := range into {
		c := m[k]
		if c == nil {
			c = &counter{}
			m[k] = c
		}
		c.N += v.N
		c.Ns += v.Ns
	}
}

func main() {
	progs := map[string]*prog{}
	all := map[string]*counter{}
	extra := map[string]*counter{}
	var tot prog
	var files []file
	for _, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var f file
		if err := json.Unmarshal(b, &f); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		files = append(files, f)
		p := progs[f.Comm]
		if p == nil {
			p = &prog{syscalls: map[string]*counter{}, extra: map[string]*counter{}}
			progs[f.Comm] = p
		}
		for _, q := range []*prog{p, &tot} {
			q.procs++
			q.start += f.StartNs
			q.run += f.RunNs
			q.end += f.EndNs
			q.runs += f.Stats.Runs
			q.runNs += f.Stats.RunNs
			q.sysN += f.Stats.SyscallN
			q.sysNs += f.Stats.SyscallNs
		}
		for k, v := range f.Stats.Syscalls {
			add(v, k, all, p.syscalls)
		}
		for k, v := range f.Stats.Extra {
			add(*v, k, extra, p.extra)
		}
	}
	names := make([]string, 0, len(progs))
	for k := range progs {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return progs[names[i]].run > progs[names[j]].run })
	fmt.Printf("%-16s %5s %9s %9s %9s %8s %9s %9s %9s\n", "program", "procs", "start ms", "loop ms", "end ms",
		"syscalls", "handl ms", "vcpu runs", "vcpu ms")
	row := func(name string, p *prog) {
		fmt.Printf("%-16s %5d %9.1f %9.1f %9.1f %8d %9.1f %9d %9.1f\n", name, p.procs, float64(p.start)/1e6,
			float64(p.run)/1e6, float64(p.end)/1e6, p.sysN, ms(p.sysNs), p.runs, ms(p.runNs))
	}
	for _, n := range names {
		row(n, progs[n])
	}
	row("TOTAL", &tot)
	printTop := func(title string, m map[string]*counter, limit int) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]].Ns > m[keys[j]].Ns })
		if limit > 0 && len(keys) > limit {
			keys = keys[:limit]
		}
		fmt.Printf("\n%-28s %8s %10s %10s\n", title, "count", "total ms", "µs/call")
		for _, k := range keys {
			c := m[k]
			fmt.Printf("%-28s %8d %10.1f %10.1f\n", k, c.N, ms(c.Ns), float64(c.Ns)/1e3/float64(max(c.N, 1)))
		}
	}
	printTop("syscall (handler time)", all, 30)
	if len(extra) > 0 {
		printTop("extra", extra, 0)
	}
	if os.Getenv("TIMELINE") != "" && len(files) > 0 {
		timeline(files)
	}
	if len(os.Getenv("PER_PROG")) > 0 {
		for _, n := range names {
			printTop(n, progs[n].syscalls, 15)
			if len(progs[n].extra) > 0 {
				printTop(n+" extra", progs[n].extra, 0)
			}
		}
	}
}

// timeline prints every process's life and its slow syscalls in wall-clock
// order, in milliseconds from the first life's start.
func timeline(files []file) {
	type ev struct {
		t    int64
		text string
	}
	var evs []ev
	t0 := files[0].T0
	for _, f := range files {
		t0 = min(t0, f.T0)
	}
	for _, f := range files {
		who := fmt.Sprintf("pid %d %s", f.Pid, f.Comm)
		evs = append(evs, ev{f.T0, who + ": life starts"}, ev{f.TRun, who + ": runs"},
			ev{f.TEnd, who + ": run loop ends"})
		for _, s := range f.Stats.Slow {
			evs = append(evs, ev{s.Start, fmt.Sprintf("%s: %s begins (%.1f ms, ends at %.1f)", who, s.Name,
				float64(s.Ns)/1e6, float64(s.Start+s.Ns-t0)/1e6)})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].t < evs[j].t })
	fmt.Println()
	for _, e := range evs {
		fmt.Printf("%8.1f  %s\n", float64(e.t-t0)/1e6, e.text)
	}
}
