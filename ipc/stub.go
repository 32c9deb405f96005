package ipc

// Host processes that hold a guest's memory besides its guestproc: the
// ptrace backend runs guest code in a stub process, a child of the
// guestproc, which holds every mapping the guest made. When a guestproc is
// killed (a guest SIGKILL, a crash), its stubs are killed after it and end
// on their own time; a mapping they hold of a file open for writing keeps
// execve of that file failing with ETXTBSY meanwhile. So the supervisor
// keeps a pidfd of each stub and, before it reports the death of a
// guestproc that ended without Exited, waits until its stubs are gone too
// (Linux's exit_mm comes before the parent hears).

// MsgHostStub (G→S, body empty, no answer) carries a pidfd of a stub the
// guestproc started as its one descriptor. The supervisor may see it before
// MsgStarted.
const MsgHostStub Type = 230
