package kernel

// STUB: owned by the files helper, replaced wholesale.

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
