package guestproc

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/hashicorp/go-hclog"
)

// ProfileEnv names the environment variable that makes every guestproc write
// a CPU profile (go tool pprof format) to "$ELFUSE_CPUPROFILE.<host pid>"
// for its whole life: start-up, run loop and syscall handlers. The
// supervisor passes its environment to guestprocs, so
//
//	ELFUSE_CPUPROFILE=/tmp/prof elfuse --backend=ptrace PROG
//	go tool pprof -top /tmp/elfuse /tmp/prof.*
//
// profiles a run. The guest sees the variable in its environment too, as it
// sees everything else elfuse was given.
const ProfileEnv = "ELFUSE_CPUPROFILE"

// startProfile starts the CPU profile when ProfileEnv is set and returns
// the function that stops and flushes it.
func startProfile(log hclog.Logger) func() {
	base := os.Getenv(ProfileEnv)
	if base == "" {
		return func() {}
	}
	path := fmt.Sprintf("%s.%d", base, os.Getpid())
	f, err := os.Create(path)
	if err != nil {
		log.Warn("cpu profile", "error", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Warn("cpu profile", "error", err)
		f.Close()
		return func() {}
	}
	log.Debug("writing cpu profile", "path", path)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
