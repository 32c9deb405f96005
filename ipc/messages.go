package ipc

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
