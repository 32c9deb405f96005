package abi

// Scheduling policies (include/uapi/linux/sched.h).
const (
	SCHED_OTHER    = 0
	SCHED_FIFO     = 1
	SCHED_RR       = 2
	SCHED_BATCH    = 3
	SCHED_IDLE     = 5
	SCHED_DEADLINE = 6
	// SCHED_RESET_ON_FORK may be or'ed into the policy.
	SCHED_RESET_ON_FORK = 0x40000000
)

// MAX_RT_PRIO is the number of real-time priorities (1..99 usable).
const MAX_RT_PRIO = 100

// SchedParam is struct sched_param.
type SchedParam struct {
	Priority int32
}

// Personality values (include/uapi/linux/personality.h).
const (
	PER_LINUX = 0
	// PER_QUERY (0xffffffff) asks personality(2) for the current value.
	PER_QUERY = 0xffffffff
)
