package tests

import (
	"testing"
)

// procProgramCases are the issue-3 C programs, one mode per case; each is
// built with glibc and musl (musl's posix_spawn and vfork differ).
func procProgramCases() []progCase {
	var cs []progCase
	// fork: wait statuses, killed children, 300 inherited descriptors with
	// shared offsets, MAP_SHARED vs MAP_PRIVATE, snapshot isolation, vfork.
	for _, m := range []string{"statuses", "killed", "fds", "shared", "snapshot", "vfork"} {
		cs = append(cs, progCase{name: "fork_" + m, src: "proc_fork.c", args: []string{m}, compareFiles: true})
	}
	// Forks of a parent that changes its memory in every way between
	// them: elfuse's children copy only what changed (kernel/mm_track.go).
	cs = append(cs, progCase{name: "fork_incremental", src: "fork_incremental.c"},
		progCase{name: "fork_incremental_threads", src: "fork_incremental.c", args: []string{"threads"}})
	// The tree: posix_spawn, exec failure, orphan reparenting, process
	// groups and killpg, WNOHANG/ECHILD, SIGSTOP/SIGCONT reporting.
	for _, m := range []string{"spawn", "execfail", "orphan", "pgrp", "wnohang", "stopcont"} {
		cs = append(cs, progCase{name: "tree_" + m, src: "proc_tree.c", args: []string{m}, compareFiles: true})
	}
	// Signals from another process interrupting blocked system calls.
	cs = append(cs, progCase{name: "signals_interrupt_blocked_calls", src: "proc_intr.c"})
	// Forks one after another, over fork tickets under elfuse
	// (proc_ticket_test.go).
	cs = append(cs, ticketCases()...)
	// Children that end while their parent waits: what must come before
	// the exit, group waits, SIGCHLD handlers, orphans of an ending child.
	for _, m := range []string{"signalfirst", "group", "sigchld", "orphan"} {
		cs = append(cs, progCase{name: "exit_" + m, src: "proc_exit.c", args: []string{m}})
	}
	// Children one after another on recycled guestprocs and VMs: none
	// sees the memory of the one before; threads come and go.
	for _, m := range []string{"fresh", "threads"} {
		cs = append(cs, progCase{name: "recycle_" + m, src: "proc_recycle.c", args: []string{m}})
	}
	// PR_SET_PDEATHSIG delivered when the parent ends.
	cs = append(cs, progCase{name: "pdeathsig", src: "proc_pdeathsig.c"})
	// Record locks between processes: F_GETLK names the guest pid.
	cs = append(cs, progCase{name: "locks_between_processes", src: "locks.c"})
	return cs
}

// knownProcGaps are cases that fail today for a reason recorded on issue 3;
// each entry goes away with its fix.
var knownProcGaps = map[string]string{}

func TestProcPrograms(t *testing.T) {
	for _, pc := range procProgramCases() {
		t.Run(pc.name, func(t *testing.T) {
			if reason, known := knownProcGaps[pc.name]; known {
				t.Skip("known gap, not yet implemented: " + reason)
			}
			procProgram(t, pc)
		})
	}
}
