package kernel

import (
	"sync"
	"sync/atomic"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Descriptors.
//
// Guest descriptor numbers are virtual: the FDTable maps each to a HostFile,
// a reference-counted host descriptor held by this guestproc. The guest sees
// Linux's numbering (lowest free number, RLIMIT_NOFILE) whatever the host
// numbers are. dup(2) and friends share one HostFile between guest numbers,
// exactly as Linux shares an open file description, so they cost no host
// syscall; only the close-on-exec flag is per guest number, and it lives in
// the table: every host descriptor elfuse opens for the guest carries
// O_CLOEXEC on the host.
//
// A handler that uses a descriptor across a blocking host call holds a
// reference (Acquire/Release), so a concurrent close(2) from another guest
// thread never lets the host number be reused under it; the host close
// happens when the last reference goes, as Linux's fput.

// DefaultNoFile is the RLIMIT_NOFILE soft limit used until the process's
// rlimits say otherwise (SetLimit).
const DefaultNoFile = 1024

// HostFile is one host descriptor shared by the guest numbers that refer to
// it and the syscalls in flight on it.
type HostFile struct {
	fd   int
	refs atomic.Int32
	// kind caches waitKind's answer.
	kind atomic.Int32
	// tty caches isTerminal's answer (tty.go): 0 unknown, 1 no, 2 yes.
	tty atomic.Int32
	// ptm caches ptyFollower's answer (pty_signal.go): 0 unknown, 1 not
	// a pseudo-terminal leader, else its follower's device number.
	ptm atomic.Uint64
	// pts caches ptsDev's answer (pty_signal.go): 0 unknown, 1 not a
	// pseudo-terminal follower, else its device number.
	pts atomic.Uint64
	// fdDir is set (before the file is shared) when it is the guest's
	// /proc/self/fd directory, whose entries are the guest's numbers
	// (fd_dir.go).
	fdDir *fdDirState
	// sigfd is set (before the file is shared) when it is a signalfd
	// (sys_signal_fd.go).
	sigfd *signalFD
	// pidfd is set (before the file is shared) when it is a pidfd
	// (sys_pidfd.go).
	pidfd *pidFD
	// writeTo is set (before the file is shared) when it is a writable
	// synthetic file: writes go to it (procfs_comm.go).
	writeTo synthPut
}

// FD returns the host descriptor. It stays valid until Release.
func (h *HostFile) FD() int { return h.fd }

// Release drops a reference taken by FDTable.Acquire.
func (h *HostFile) Release() { h.put() }

func (h *HostFile) get() { h.refs.Add(1) }

// File kinds as far as waiting is concerned (HostFile.kind).
const (
	kindUnknown int32 = iota
	kindNeverBlocks
	kindMayBlock
	kindSocket // may block, and has its own send/receive timeouts
)

// waitKind classifies the file once: regular files, directories and block
// devices never wait for readiness; pipes, terminals and other character
// devices, anonymous inodes (eventfd...) and sockets may.
func (h *HostFile) waitKind() int32 {
	if k := h.kind.Load(); k != kindUnknown {
		return k
	}
	k := kindMayBlock
	var st unix.Stat_t
	if unix.Fstat(h.fd, &st) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK:
			k = kindNeverBlocks
		case unix.S_IFSOCK:
			k = kindSocket
		}
	}
	h.kind.Store(k)
	return k
}

// mayBlock reports whether I/O on the file can wait for another party.
func (h *HostFile) mayBlock() bool { return h.waitKind() != kindNeverBlocks }

// put drops a reference and reports whether it closed the host descriptor.
func (h *HostFile) put() bool {
	if h.refs.Add(-1) != 0 {
		return false
	}
	closeHostFD(h.fd)
	return true
}

// closeHostFD closes a host descriptor. The guestproc's own stdin, stdout
// and stderr numbers are never freed: they are pointed at /dev/null
// instead, so the guest's reader still sees EOF but a later host open can
// never land on 0-2, where Go runtime messages or logs written to os.Stderr
// would end up in a guest file.
func closeHostFD(fd int) {
	if fd > 2 {
		unix.Close(fd)
		return
	}
	if null := devNull(); null >= 0 {
		if unix.Dup3(null, fd, 0) == nil {
			return
		}
	}
	unix.Close(fd)
}

var devNull = sync.OnceValue(func() int {
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
})

func newHostFile(fd int) *HostFile {
	h := &HostFile{fd: fd}
	h.refs.Store(1)
	return h
}

type fdSlot struct {
	file    *HostFile // nil: free
	cloexec bool
}

// FDEntry describes one open guest descriptor (for fork, exec and dumps).
type FDEntry struct {
	FD          int32
	Host        int
	CloseOnExec bool
	// sigfd is the signalfd state when the file is one.
	sigfd *signalFD
	// pidfd is the process a pidfd names.
	pidfd *pidFD
}

// FDTable maps guest descriptor numbers to host descriptors.
type FDTable struct {
	// limit is RLIMIT_NOFILE's soft value: guest numbers stay below it.
	limit atomic.Int64

	mu sync.Mutex
	// slots is indexed by guest descriptor number.
	slots []fdSlot
	// free is a lower bound of the lowest free number: every number below
	// it is open (Linux's next_fd), so allocation does not rescan them.
	free int32
}

// NewFDTable returns a table holding the guestproc's stdin, stdout and
// stderr as guest 0, 1 and 2.
func NewFDTable() *FDTable {
	f := &FDTable{slots: make([]fdSlot, 3, 16)}
	for i := range 3 {
		f.slots[i].file = newHostFile(i)
	}
	f.limit.Store(DefaultNoFile)
	return f
}

// SetLimit sets the RLIMIT_NOFILE soft limit the table enforces for new
// descriptors (existing ones above it stay, as on Linux).
func (f *FDTable) SetLimit(n uint64) {
	f.limit.Store(int64(min(n, 1<<31-1)))
}

// Limit returns the enforced RLIMIT_NOFILE soft limit.
func (f *FDTable) Limit() int32 { return int32(f.limit.Load()) }

// slot returns the open slot for fd.
//
// Preconditions: f.mu is held.
func (f *FDTable) slot(fd int32) (*fdSlot, error) {
	if fd < 0 || int(fd) >= len(f.slots) || f.slots[fd].file == nil {
		return nil, abi.EBADF
	}
	return &f.slots[fd], nil
}

// Get returns the host descriptor behind guest fd (EBADF if not open).
// The number is only valid while fd stays open; a handler that may block or
// race with another thread's close should use Acquire.
func (f *FDTable) Get(fd int32) (hostfd int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.slot(fd)
	if err != nil {
		return -1, err
	}
	return s.file.fd, nil
}

// Acquire returns the host file behind guest fd with a reference the caller
// must Release.
func (f *FDTable) Acquire(fd int32) (*HostFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.slot(fd)
	if err != nil {
		return nil, err
	}
	s.file.get()
	return s.file, nil
}

// lowestFree returns the lowest free number >= min below the limit.
//
// Preconditions: f.mu is held.
func (f *FDTable) lowestFree(min int32) (int32, error) {
	limit := f.Limit()
	for fd := max(min, f.free); fd < limit; fd++ {
		if int(fd) >= len(f.slots) || f.slots[fd].file == nil {
			return fd, nil
		}
	}
	return -1, abi.EMFILE
}

// put stores file at fd and returns the file it replaced (or nil).
//
// Preconditions: f.mu is held; fd >= 0.
func (f *FDTable) put(fd int32, file *HostFile, cloexec bool) *HostFile {
	if int(fd) >= len(f.slots) {
		f.slots = append(f.slots, make([]fdSlot, int(fd)+1-len(f.slots))...)
	}
	old := f.slots[fd].file
	f.slots[fd] = fdSlot{file: file, cloexec: cloexec}
	if fd == f.free {
		f.free++
	}
	return old
}

// clearSlot frees number fd.
//
// Preconditions: f.mu is held; fd is a valid index.
func (f *FDTable) clearSlot(fd int32) {
	f.slots[fd] = fdSlot{}
	f.free = min(f.free, fd)
}

// Available returns EMFILE if no guest number is free below the limit.
// Calls that create something before they need a number (open with
// O_CREAT) check first, as Linux allocates the number before it acts;
// they still handle Install's EMFILE, since another thread may take the
// last number in between.
func (f *FDTable) Available() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.lowestFree(0)
	return err
}

// Install gives hostfd the lowest free guest number >= min. The table owns
// hostfd from then on. On error (EMFILE at the limit, EINVAL for a negative
// min) the caller still owns hostfd and must close it.
func (f *FDTable) Install(hostfd int, cloexec bool, min int32) (int32, error) {
	return f.installFile(newHostFile(hostfd), cloexec, min)
}

// installFile gives a new host file the lowest free number >= min.
func (f *FDTable) installFile(file *HostFile, cloexec bool, min int32) (int32, error) {
	if min < 0 {
		return -1, abi.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, err := f.lowestFree(min)
	if err != nil {
		return -1, err
	}
	f.put(fd, file, cloexec)
	return fd, nil
}

// InstallAt puts hostfd at guest number fd, closing what was there (fork
// children rebuilding their table use it, and pid 1 taking what elfuse
// inherited). RLIMIT_NOFILE does not apply: the numbers were held already,
// and Linux's fork copies descriptors above a lowered limit as they are.
// The table owns hostfd unless an error (EBADF: fd negative) is returned.
func (f *FDTable) InstallAt(fd int32, hostfd int, cloexec bool) error {
	if fd < 0 {
		return abi.EBADF
	}
	f.mu.Lock()
	old := f.put(fd, newHostFile(hostfd), cloexec)
	f.mu.Unlock()
	if old != nil {
		releaseClosed(old)
	}
	return nil
}

// installFileAt is InstallAt for a prepared host file (a signalfd a fork
// child re-creates).
func (f *FDTable) installFileAt(fd int32, file *HostFile, cloexec bool) error {
	if fd < 0 {
		return abi.EBADF
	}
	f.mu.Lock()
	old := f.put(fd, file, cloexec)
	f.mu.Unlock()
	if old != nil {
		releaseClosed(old)
	}
	return nil
}

// Dup makes a new guest number >= min refer to the same host file as oldfd
// (dup(2), F_DUPFD, F_DUPFD_CLOEXEC).
func (f *FDTable) Dup(oldfd, min int32, cloexec bool) (int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.slot(oldfd)
	if err != nil {
		return -1, err
	}
	fd, err := f.lowestFree(min)
	if err != nil {
		return -1, err
	}
	file := s.file
	file.get()
	f.put(fd, file, cloexec)
	return fd, nil
}

// DupTo makes newfd refer to the same host file as oldfd, closing newfd
// first if it was open (dup2(2), dup3(2)). oldfd == newfd is the caller's
// business (dup2 and dup3 differ there).
func (f *FDTable) DupTo(oldfd, newfd int32, cloexec bool) error {
	if newfd < 0 || newfd >= f.Limit() {
		return abi.EBADF
	}
	f.mu.Lock()
	s, err := f.slot(oldfd)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	file := s.file
	file.get()
	old := f.put(newfd, file, cloexec)
	f.mu.Unlock()
	if old != nil {
		releaseClosed(old)
	}
	return nil
}

// Close closes guest fd (close(2)).
func (f *FDTable) Close(fd int32) error {
	f.mu.Lock()
	s, err := f.slot(fd)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	file := s.file
	f.clearSlot(fd)
	f.mu.Unlock()
	releaseClosed(file)
	return nil
}

// releaseClosed drops the reference a table slot held. If the host file
// stays open (another guest number or a syscall in flight still uses it),
// the process's POSIX record locks on the file are dropped anyway, because
// Linux releases them on every close of any descriptor of the file.
func releaseClosed(file *HostFile) {
	if file.put() {
		return
	}
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: abi.SEEK_SET}
	_ = unix.FcntlFlock(uintptr(file.fd), unix.F_SETLK, &lk)
}

// GetCloexec returns guest fd's close-on-exec flag (F_GETFD).
func (f *FDTable) GetCloexec(fd int32) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.slot(fd)
	if err != nil {
		return false, err
	}
	return s.cloexec, nil
}

// SetCloexec sets guest fd's close-on-exec flag (F_SETFD, FIOCLEX).
func (f *FDTable) SetCloexec(fd int32, cloexec bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.slot(fd)
	if err != nil {
		return err
	}
	s.cloexec = cloexec
	return nil
}

// closeMatching removes every slot in [first, last] for which match holds
// and releases them outside the lock.
func (f *FDTable) closeMatching(first, last int32, match func(fdSlot) bool) {
	var closed []*HostFile
	f.mu.Lock()
	for fd := max(first, 0); int(fd) < len(f.slots) && fd <= last; fd++ {
		if s := f.slots[fd]; s.file != nil && match(s) {
			closed = append(closed, s.file)
			f.clearSlot(fd)
		}
		if fd == 1<<31-1 {
			break
		}
	}
	f.mu.Unlock()
	for _, file := range closed {
		releaseClosed(file)
	}
}

// CloseRange closes guest descriptors first..last (close_range(2)).
func (f *FDTable) CloseRange(first, last int32) {
	f.closeMatching(first, last, func(fdSlot) bool { return true })
}

// SetCloexecRange marks first..last close-on-exec
// (close_range(CLOSE_RANGE_CLOEXEC)).
func (f *FDTable) SetCloexecRange(first, last int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fd := max(first, 0); int(fd) < len(f.slots) && fd <= last; fd++ {
		if f.slots[fd].file != nil {
			f.slots[fd].cloexec = true
		}
		if fd == 1<<31-1 {
			break
		}
	}
}

// CloseOnExec closes every descriptor marked close-on-exec (execve).
func (f *FDTable) CloseOnExec() {
	f.closeMatching(0, 1<<31-1, func(s fdSlot) bool { return s.cloexec })
}

// CloseAll closes every descriptor (process exit).
func (f *FDTable) CloseAll() {
	f.closeMatching(0, 1<<31-1, func(fdSlot) bool { return true })
}

// Entries lists the open descriptors in ascending guest order.
func (f *FDTable) Entries() []FDEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FDEntry
	for fd, s := range f.slots {
		if s.file != nil {
			out = append(out, FDEntry{FD: int32(fd), Host: s.file.fd, CloseOnExec: s.cloexec, sigfd: s.file.sigfd,
				pidfd: s.file.pidfd})
		}
	}
	return out
}
