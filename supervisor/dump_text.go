package supervisor

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// signalNames lists the signals of set by name, in number order.
func signalNames(set abi.SigSet) []string {
	names := []string{}
	for sig := 1; sig <= abi.NSIG; sig++ {
		if set.Has(sig) {
			names = append(names, signalName(sig))
		}
	}
	return names
}

func signalName(sig int) string {
	if sig >= abi.SIGRTMIN {
		return "SIGRTMIN+" + strconv.Itoa(sig-abi.SIGRTMIN)
	}
	if n := unix.SignalName(syscall.Signal(sig)); n != "" {
		return n
	}
	return "SIG" + strconv.Itoa(sig)
}

// StateText is a process's state as the text dump shows it: "running",
// "in syscall wait4 for 12 ms", "stopped" or "zombie (exit 0)".
func (d *DumpProc) StateText() string {
	switch {
	case d.Syscall != "":
		return fmt.Sprintf("in syscall %s for %d ms", d.Syscall, d.SyscallMs)
	case d.ExitStatus != nil:
		ws := syscall.WaitStatus(*d.ExitStatus)
		if ws.Signaled() {
			return fmt.Sprintf("zombie (killed by %s)", signalName(int(ws.Signal())))
		}
		return fmt.Sprintf("zombie (exit %d)", ws.ExitStatus())
	}
	return d.State
}

// WriteDumpText writes procs as an indented tree: each process under its
// parent, its details below it.
func WriteDumpText(w io.Writer, procs []DumpProc) error {
	byPid := map[int32]bool{}
	children := map[int32][]int{}
	for i, p := range procs {
		byPid[p.Pid] = true
		children[p.Ppid] = append(children[p.Ppid], i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d guest process(es)\n", len(procs))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		writeProcText(&b, &procs[i], strings.Repeat("    ", depth))
		for _, c := range children[procs[i].Pid] {
			if c != i {
				walk(c, depth+1)
			}
		}
	}
	for i, p := range procs {
		if !byPid[p.Ppid] || p.Ppid == p.Pid {
			walk(i, 0)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProcText(b *strings.Builder, p *DumpProc, ind string) {
	fmt.Fprintf(b, "%spid %d  ppid %d  pgid %s  sid %s  host pid %d  %s\n",
		ind, p.Pid, p.Ppid, leaderText(p.Pgid), leaderText(p.Sid), p.HostPid, p.StateText())
	ind += "  "
	if p.Exe != "" {
		fmt.Fprintf(b, "%sexe   %s\n", ind, p.Exe)
	}
	if len(p.Argv) > 0 {
		fmt.Fprintf(b, "%sargv  %s\n", ind, quoteArgv(p.Argv))
	}
	if p.Error != "" {
		fmt.Fprintf(b, "%s(%s)\n", ind, p.Error)
	}
	if p.Cwd != "" {
		fmt.Fprintf(b, "%scwd   %s\n", ind, p.Cwd)
	}
	if p.ExitStatus != nil || p.Error != "" {
		return
	}
	fmt.Fprintf(b, "%ssignals blocked %s  pending %s\n", ind, setText(p.Blocked), setText(p.Pending))
	fmt.Fprintf(b, "%sthreads %d\n", ind, len(p.Threads))
	for _, t := range p.Threads {
		st := t.State
		switch {
		case t.Syscall != "" && t.State == "stopped":
			st = fmt.Sprintf("stopped in syscall %s", t.Syscall)
		case t.Syscall != "":
			st = fmt.Sprintf("in syscall %s for %d ms", t.Syscall, t.SyscallMs)
		}
		fmt.Fprintf(b, "%s  tid %d  %s  blocked %s  pending %s\n", ind, t.Tid, st, setText(t.Blocked), setText(t.Pending))
	}
	fmt.Fprintf(b, "%sfds %d\n", ind, len(p.FDs))
	for _, f := range p.FDs {
		ce := ""
		if f.CloseOnExec {
			ce = "  (cloexec)"
		}
		fmt.Fprintf(b, "%s  %d -> %s%s\n", ind, f.FD, f.Target, ce)
	}
	fmt.Fprintf(b, "%sregions %d\n", ind, len(p.Regions))
	for _, r := range p.Regions {
		line := fmt.Sprintf("%s  %08x-%08x %s %08x %s", ind, r.Start, r.End, r.Perms, r.Offset, r.Name)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	if p.Truncated {
		fmt.Fprintf(b, "%s(descriptors or regions left out)\n", ind)
	}
}

func setText(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// quoteArgv joins argv the way a shell would need it typed.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}~#!") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// leaderText names a group or session id; "outside" when its leader is
// the shell or daemon that ran elfuse.
func leaderText(id int32) string {
	if id == OutsideGroup || id == OutsideSession {
		return "outside"
	}
	return strconv.Itoa(int(id))
}
