package kernel

// STUB: owned by the files helper, replaced wholesale.

import "github.com/elfuse/elfuse/kernel/abi"

// FDTable maps guest descriptor numbers to host descriptors.
type FDTable struct{}

// NewFDTable returns a table holding the guestproc's stdin, stdout, stderr
// as guest 0, 1, 2.
func NewFDTable() *FDTable { return &FDTable{} }

// CloseAll closes every descriptor (process exit).
func (f *FDTable) CloseAll() {}

// SetLimit sets the RLIMIT_NOFILE soft limit the table enforces. STUB:
// declared by the proc helper (prlimit keeps the table in step); the files
// helper's version replaces it.
func (f *FDTable) SetLimit(n uint64) {}

// Get returns the host descriptor behind guest fd. STUB: declared by the
// proc helper (timerfd); the files helper's version replaces it.
func (f *FDTable) Get(fd int32) (hostfd int, err error) { return -1, abi.EBADF }

// Install gives hostfd the lowest free guest number >= min. STUB: declared
// by the proc helper (timerfd); the files helper's version replaces it.
func (f *FDTable) Install(hostfd int, cloexec bool, min int32) (int32, error) {
	return -1, abi.EMFILE
}
