package ipc

// GuestprocMode is the hidden first argument that makes the elfuse binary a
// guestproc; the supervisor's pid follows it.
const GuestprocMode = "__elfuse_guestproc"

// GuestprocControlFD is the descriptor number of the control socket in a
// guestproc.
const GuestprocControlFD = 3

// Start tells a new guestproc what to run.
type Start struct {
	Path     string   // host path of the program
	Argv     []string // guest argv
	Envp     []string // guest environment
	Pid      int32    // guest pid
	Ppid     int32    // guest parent pid
	Backend  string   // "kvm", "ptrace" or "auto"
	Timeout  int      // watchdog seconds, 0 = off
	LogLevel string
	// Sysroot, when set, is the host directory the guest sees as "/";
	// Path is then a guest path (a bare name is searched in the guest's
	// PATH under the sysroot). Binds bring host paths in; Workdir is the
	// guest's initial working directory (a guest path), "" to inherit.
	Sysroot string
	Binds   []Bind
	Workdir string
}

// Bind is one --bind HOST[:GUEST][:ro].
type Bind struct {
	Host, Guest string
	ReadOnly    bool
}

// ExecFailed reports why the program could not be started.
type ExecFailed struct {
	Errno   int    // Linux errno (ENOENT, EACCES, ENOEXEC, ...)
	Message string // one line for the user
	// Unavailable is set when the hypervisor backend cannot run here.
	Unavailable bool
}

// Exited carries the guest's wait status (Linux encoding).
type Exited struct {
	Status uint32
}
