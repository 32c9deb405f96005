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
// profiles a run. A recycled guestproc (spawn_recycle.go) writes one
// profile per process it runs: "$ELFUSE_CPUPROFILE.<host pid>" for the
// first, "$ELFUSE_CPUPROFILE.<host pid>.<n>" for the n-th later one (an
// idle spare is killed without a chance to flush). The guest sees the variable in its environment too, as it
// sees everything else elfuse was given.
const ProfileEnv = "ELFUSE_CPUPROFILE"

// startProfile starts the CPU profile when ProfileEnv is set and returns
// the function that stops and flushes it.
func startProfile(log hclog.Logger, life int) func() {
	base := os.Getenv(ProfileEnv)
	if base == "" {
		return func() {}
	}
	path := fmt.Sprintf("%s.%d", base, os.Getpid())
	if life > 0 {
		path = fmt.Sprintf("%s.%d", path, life)
	}
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
