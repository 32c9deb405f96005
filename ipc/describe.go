package ipc

// Describe and Description carry a live picture of one guest process for
// `elfuse dump`. The supervisor sends Describe with a fresh ID on the
// control socket; the guestproc's reader goroutine answers with one
// Description carrying the same ID, without stopping the guest's vCPUs. A
// stopped guestproc (SIGSTOP) cannot answer: the supervisor does not ask
// it, and gives up on any answer after a short timeout.

// Limits on one Description so it fits in one message (maxMessage); the
// guestproc sets Truncated when it dropped entries.
const (
	DescribeMaxFDs     = 2048
	DescribeMaxRegions = 4096
)

// Describe is the body of MsgDescribe.
type Describe struct {
	ID uint64
}

// Description is the body of MsgDescription.
type Description struct {
	ID        uint64       `json:"id"`
	Exe       string       `json:"exe"`
	Argv      []string     `json:"argv"`
	Cwd       string       `json:"cwd"`
	Threads   []ThreadDesc `json:"threads"`
	FDs       []FDDesc     `json:"fds"`
	Regions   []RegionDesc `json:"regions"`
	Pending   uint64       `json:"pending"` // process-directed pending signal set
	Truncated bool         `json:"truncated,omitempty"`
}

// ThreadDesc is one thread of a Description.
type ThreadDesc struct {
	Tid     int32  `json:"tid"`
	Blocked uint64 `json:"blocked"`
	Pending uint64 `json:"pending"`
	// Syscall names the syscall in progress ("" while running guest
	// code), for SyscallNs nanoseconds so far.
	Syscall   string `json:"syscall,omitempty"`
	SyscallNs int64  `json:"syscall_ns,omitempty"`
}

// FDDesc is one descriptor: its number and what it refers to.
type FDDesc struct {
	FD          int32  `json:"fd"`
	Target      string `json:"target"`
	CloseOnExec bool   `json:"cloexec,omitempty"`
}

// RegionDesc is one mapping, as a line of /proc/PID/maps shows it.
type RegionDesc struct {
	Start  uint64 `json:"start"`
	End    uint64 `json:"end"`
	Perms  string `json:"perms"`
	Offset uint64 `json:"offset"`
	Name   string `json:"name,omitempty"`
}
