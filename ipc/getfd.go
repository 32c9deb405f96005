package ipc

// pidfd_getfd(2): a process takes a duplicate of another process's
// descriptor. The descriptors live in the target's guestproc, so the
// supervisor asks it and passes the answer on:
//
//	caller G                 S                          target G
//	Request OpPidfdGetfd ->
//	                         (pidfd still names a live
//	                          incarnation, else ESRCH)
//	                         MsgGetFD{ID, FD, creds} ->
//	                                                    check permission,
//	                                                    dup FD
//	                         <- MsgGetFDAnswer{ID, Errno} + SCM_RIGHTS fd
//	<- Reply{Errno} + SCM_RIGHTS fd
//
// The supervisor waits for the answer off the caller's reader loop (two
// processes may take each other's descriptors at once). A target whose
// socket closes meanwhile (it ended) answers ESRCH. The receiver of an
// answer owns its descriptor and closes it if nobody waits for it.

// Message types of the pidfd_getfd exchange, above the /proc ones.
const (
	// MsgGetFD (S→G) asks for a duplicate of descriptor FD.
	MsgGetFD Type = 210
	// MsgGetFDAnswer (G→S) answers with the descriptor (SCM_RIGHTS) or
	// an errno.
	MsgGetFDAnswer Type = 211
)

// GetFD is the body of MsgGetFD: the descriptor, and who asks (the
// caller's real uid and gid, and whether it has CAP_SYS_PTRACE) for the
// target's PTRACE_MODE_ATTACH_REALCREDS check.
type GetFD struct {
	ID       uint64
	FD       int32
	UID, GID uint32
	Ptrace   bool
}

// GetFDAnswer is the body of MsgGetFDAnswer; one descriptor travels with
// it when Errno is 0.
type GetFDAnswer struct {
	ID    uint64
	Errno int32
}
