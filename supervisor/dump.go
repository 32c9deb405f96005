package supervisor

// The live dump of the tree (`elfuse dump`, SIGUSR1): the tree's own
// records, completed by a Description each running guestproc gives on
// request (ipc.Describe) without stopping its guest.

import (
	"sync"
	"time"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel/abi"
)

// describeTimeout bounds the wait for one guestproc's Description: a busy
// or dying guestproc must not hang the dump.
const describeTimeout = 2 * time.Second

// DumpProc is one process of a dump (the JSON form of `elfuse dump`).
type DumpProc struct {
	Pid     int32 `json:"pid"`
	Ppid    int32 `json:"ppid"`
	Pgid    int32 `json:"pgid"`
	Sid     int32 `json:"sid"`
	HostPid int   `json:"host_pid"`
	// State is "running", "in syscall" (Syscall for SyscallMs), "stopped"
	// or "zombie".
	State     string `json:"state"`
	Syscall   string `json:"syscall,omitempty"`
	SyscallMs int64  `json:"syscall_ms,omitempty"`
	// ExitStatus is a zombie's wait status (Linux encoding).
	ExitStatus *uint32          `json:"exit_status,omitempty"`
	Exe        string           `json:"exe"`
	Argv       []string         `json:"argv"`
	Cwd        string           `json:"cwd,omitempty"`
	Threads    []DumpThread     `json:"threads"`
	FDs        []ipc.FDDesc     `json:"fds"`
	Regions    []ipc.RegionDesc `json:"regions"`
	// Blocked is the first thread's mask; Pending the signals pending
	// for the process or any of its threads.
	Blocked []string `json:"blocked"`
	Pending []string `json:"pending"`
	// Truncated: the guestproc left out descriptors or regions.
	Truncated bool `json:"truncated,omitempty"`
	// Error says why the details (cwd, threads, fds, regions) are
	// missing for a process that is not a zombie.
	Error string `json:"error,omitempty"`
}

// DumpThread is one thread of a DumpProc.
type DumpThread struct {
	Tid       int32    `json:"tid"`
	State     string   `json:"state"` // "running", "in syscall" or "stopped"
	Syscall   string   `json:"syscall,omitempty"`
	SyscallMs int64    `json:"syscall_ms,omitempty"`
	Blocked   []string `json:"blocked"`
	Pending   []string `json:"pending"`
}

// describers routes Descriptions to the dumps waiting for them.
type describers struct {
	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan ipc.Description
}

// Dump returns the live tree, sorted by pid.
func (s *supervisor) Dump() []DumpProc {
	procs := s.Snapshot()
	out := make([]DumpProc, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		out[i] = DumpProc{Pid: p.Pid, Ppid: p.Ppid, Pgid: p.Pgid, Sid: p.Sid, HostPid: p.HostPid,
			State: p.State.String(), Exe: p.Exe, Argv: p.Argv}
		switch {
		case p.State == Zombie:
			st := p.Status
			out[i].ExitStatus = &st
			continue
		case p.State == Stopped:
			// A stopped host process cannot answer: what it was as
			// it stopped (procfs_snapshot.go).
			if desc, ok := s.stoppedDescription(p.Pid); ok {
				out[i].fill(desc)
				out[i].stopped()
			} else {
				out[i].Error = "stopped: no details"
			}
			continue
		case p.HostPid == 0:
			out[i].Error = "not started"
			continue
		}
		wg.Add(1)
		go func(d *DumpProc) {
			defer wg.Done()
			desc, err := s.describe(d.Pid)
			if err != nil {
				d.Error = err.Error()
				return
			}
			d.fill(desc)
		}(&out[i])
	}
	wg.Wait()
	return out
}

// describe asks guest pid's guestproc for its Description.
func (s *supervisor) describe(pid int32) (ipc.Description, error) {
	d := &s.describers
	ch := make(chan ipc.Description, 1)
	d.mu.Lock()
	if d.waiting == nil {
		d.waiting = map[uint64]chan ipc.Description{}
	}
	d.nextID++
	id := d.nextID
	d.waiting[id] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
	}()
	if err := s.send(pid, ipc.MsgDescribe, ipc.Describe{ID: id}); err != nil {
		return ipc.Description{}, errGone
	}
	t := time.NewTimer(describeTimeout)
	defer t.Stop()
	select {
	case desc := <-ch:
		return desc, nil
	case <-t.C:
		return ipc.Description{}, errNoAnswer
	}
}

type dumpError string

func (e dumpError) Error() string { return string(e) }

const (
	errGone     dumpError = "guestproc gone"
	errNoAnswer dumpError = "guestproc did not answer"
)

// described hands a Description from a guestproc to its waiting dump.
func (s *supervisor) described(desc ipc.Description) {
	d := &s.describers
	d.mu.Lock()
	ch := d.waiting[desc.ID]
	delete(d.waiting, desc.ID)
	d.mu.Unlock()
	if ch != nil {
		ch <- desc
	}
}

// stopped marks a process filled from its Description as it stopped:
// its threads are stopped too, in the syscall they were in, if any, for
// no time that means anything now.
func (d *DumpProc) stopped() {
	d.State, d.Syscall, d.SyscallMs = "stopped", "", 0
	for i := range d.Threads {
		d.Threads[i].State, d.Threads[i].SyscallMs = "stopped", 0
	}
}

// fill completes a process's entry from its Description.
func (d *DumpProc) fill(desc ipc.Description) {
	if desc.Exe != "" {
		d.Exe, d.Argv = desc.Exe, desc.Argv
	}
	d.Cwd, d.FDs, d.Regions, d.Truncated = desc.Cwd, desc.FDs, desc.Regions, desc.Truncated
	pending := abi.SigSet(desc.Pending)
	for i, t := range desc.Threads {
		dt := DumpThread{Tid: t.Tid, State: "running", Blocked: signalNames(abi.SigSet(t.Blocked)),
			Pending: signalNames(abi.SigSet(t.Pending))}
		if t.Syscall != "" {
			dt.State, dt.Syscall, dt.SyscallMs = "in syscall", t.Syscall, t.SyscallNs/1e6
			if d.Syscall == "" {
				d.State, d.Syscall, d.SyscallMs = dt.State, dt.Syscall, dt.SyscallMs
			}
		}
		if i == 0 {
			d.Blocked = dt.Blocked
		}
		pending |= abi.SigSet(t.Pending)
		d.Threads = append(d.Threads, dt)
	}
	d.Pending = signalNames(pending)
}
