package guestproc

import (
	"strings"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
)

// describe answers the supervisor's Describe for `elfuse dump`. It runs
// on its own goroutine so the reader keeps routing replies meanwhile, and
// never stops the guest (kernel.Process.Describe).
func (h *host) describe(req ipc.Describe) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	d := ipc.Description{ID: req.ID}
	if p != nil {
		d = describeProcess(p.Describe())
		d.ID = req.ID
	}
	if err := h.conn.Send(ipc.MsgDescription, d); err != nil {
		h.log.Debug("describe reply", "error", err)
	}
}

// describeProcess turns the kernel's description into its wire form,
// bounded to fit one message.
func describeProcess(info kernel.ProcessInfo) ipc.Description {
	d := ipc.Description{Exe: info.Exe, Argv: info.Argv, Cwd: info.Cwd, Pending: uint64(info.Pending)}
	for _, t := range info.Threads {
		td := ipc.ThreadDesc{Tid: t.Tid, Blocked: uint64(t.Blocked), Pending: uint64(t.Pending)}
		if t.Syscall >= 0 {
			td.Syscall, td.SyscallNs = t.SyscallName, int64(t.SyscallTime)
		}
		d.Threads = append(d.Threads, td)
	}
	fds := info.FDs
	if len(fds) > ipc.DescribeMaxFDs {
		fds, d.Truncated = fds[:ipc.DescribeMaxFDs], true
	}
	for _, f := range fds {
		d.FDs = append(d.FDs, ipc.FDDesc{FD: f.FD, Target: f.Target, CloseOnExec: f.CloseOnExec})
	}
	maps := info.Maps
	if len(maps) > ipc.DescribeMaxRegions {
		maps, d.Truncated = maps[:ipc.DescribeMaxRegions], true
	}
	for _, m := range maps {
		// The perms column of /proc/PID/maps, from the one formatter.
		perms := ""
		if f := strings.Fields(m.String()); len(f) > 1 {
			perms = f[1]
		}
		d.Regions = append(d.Regions, ipc.RegionDesc{Start: uint64(m.Start), End: uint64(m.End),
			Perms: perms, Offset: m.Offset, Name: m.Name})
	}
	return d
}
