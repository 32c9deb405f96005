package ipc

// /proc of other guest processes. A guestproc's kernel serves its own
// /proc/<pid>; for another pid it asks the supervisor, which answers from
// its tree or forwards the question to the target guestproc, whose kernel
// renders the node with the code that serves its own /proc/self:
//
//	reader G1          supervisor S                 target G2
//	  ProcQuery{ID:a, Pid, Rel} →
//	                     (Pid live and running)
//	                     ProcQuery{ID:b, Pid, Rel} →
//	                                                  (reader goroutine;
//	                                                  the guest runs on)
//	                                                ← ProcAnswer{ID:b, ...}
//	  ← ProcAnswer{ID:a, ...}
//
// List set: S answers with every pid of the tree (zombies included).
// Record set: S answers with its record of Pid (Tree), for a process's
// own stat and status.
// A zombie, a stopped guestproc (it cannot read) or one that does not
// answer within a short timeout (it exits, or is busy ending) is answered
// by S alone with Tree set: what the tree knows, for the reader to render
// as Linux shows such a process; a stopped one from the snapshot it left
// as it stopped, where that has the node (procfs_snapshot.go). An unknown
// pid is Errno ESRCH.
// The same two message types travel in both directions; IDs are chosen
// by the sender of the query and are only meaningful on one socket.

// Message types of the /proc exchange. They sit far above the iota range
// of conn.go so that types appended there never collide with them.
const (
	MsgProcQuery  Type = 200
	MsgProcAnswer Type = 201
	// MsgProcComm (G→S, no answer) carries the process's last comm as
	// it ends, for /proc of its zombie (PR_SET_NAME is not in the tree).
	MsgProcComm Type = 202
)

// ProcComm is the body of MsgProcComm.
type ProcComm struct {
	Comm string
}

// ProcMaxData bounds the file content of one ProcAnswer so the answer
// fits in one message (JSON turns bytes into base64); the target sets
// Truncated when it cut the content.
const ProcMaxData = 512 << 10

// ProcQuery is the body of MsgProcQuery.
type ProcQuery struct {
	ID uint64
	// List asks for the pids of the namespace (Pid and Rel unused).
	List bool
	Pid  int32
	// Rel is the path below /proc/<Pid> ("" for the directory itself),
	// clean and without a leading slash.
	Rel string
	// Record asks the supervisor for its record of Pid alone (the
	// answer's Tree), never forwarded.
	Record bool `json:",omitempty"`
	// Snapshot asks the target for the files of its /proc/<pid> as they
	// are about to stay while it is stopped (answer's Snapshot,
	// procfs_snapshot.go); Rel unused.
	Snapshot bool `json:",omitempty"`
	// Tree is the supervisor's record of Pid on a forwarded query, for
	// what the target shows but does not hold (group, session).
	Tree *ProcTree `json:",omitempty"`
	// Prlimit asks the target to do prlimit(2) on itself for the asker
	// (Rel unused); the answer's Limit is the old limit. The supervisor
	// never answers it from its tree: a process that cannot answer (a
	// zombie, a stopped one) gives ESRCH.
	Prlimit *ProcPrlimit `json:",omitempty"`
}

// ProcPrlimit is a prlimit(2) of another process: the resource, the new
// limit (nil: only read it) and the caller's real ids and whether it has
// CAP_SYS_RESOURCE, which the target checks as Linux does.
type ProcPrlimit struct {
	Resource    uint32
	New         *[2]uint64 `json:",omitempty"` // cur, max
	UID, GID    uint32
	SysResource bool `json:",omitempty"`
}

// ProcAnswer is the body of MsgProcAnswer.
type ProcAnswer struct {
	ID    uint64
	Errno int32 // Linux errno, 0 on success
	// Pids answers a List query, sorted.
	Pids []int32 `json:",omitempty"`
	// Kind says what Rel names: ProcFile (Data), ProcDir (Entries),
	// ProcLink (Target) or ProcHost (Target is a host path the reader
	// serves from its own process: the network directory, a namespace
	// link; one set of namespaces per tree).
	Kind      int          `json:",omitempty"`
	Data      []byte       `json:",omitempty"`
	Truncated bool         `json:",omitempty"`
	Target    string       `json:",omitempty"`
	Entries   []ProcDirent `json:",omitempty"`
	// Tree is set when the supervisor answered for a process that could
	// not (zombie, stopped, silent).
	Tree *ProcTree `json:",omitempty"`
	// HostPid and HostFD name, for an fd/N link to a pipe, socket or
	// anonymous inode (no path to resolve), the target's host
	// descriptor: the reader opens the object itself through the host's
	// /proc/<HostPid>/fd/<HostFD>, as Linux opens the file behind the
	// link, after checking it still is the one Target names.
	HostPid int `json:",omitempty"`
	HostFD  int `json:",omitempty"`
	// LinkMode is an fd/N link's st_mode (S_IFLNK and the permission
	// Linux derives from the open mode: r-x to read, -wx to write); 0
	// when unknown (then 0777).
	LinkMode uint32 `json:",omitempty"`
	// Limit answers a Prlimit query: the old limit, cur and max.
	Limit *[2]uint64 `json:",omitempty"`
	// Snapshot answers a Snapshot query.
	Snapshot *ProcSnapshot `json:",omitempty"`
}

// Kinds of ProcAnswer.
const (
	ProcFile = iota
	ProcDir
	ProcLink
	ProcHost
)

// ProcDirent is one entry of a directory below /proc/<pid>.
type ProcDirent struct {
	Name string
	Type uint8 // DT_*
}

// ProcTree is what the supervisor's tree knows of a process.
type ProcTree struct {
	Pid, Ppid, Pgid, Sid int32
	// State is Linux's state letter: 'Z' zombie, 'T' stopped, 'S' a
	// running process that did not answer.
	State byte
	Exe   string
	Argv  []string
	// Comm is a zombie's last comm ("" when unknown).
	Comm string `json:",omitempty"`
}
