package kernel

import "github.com/elfuse/elfuse/kernel/abi"

func init() {
	register(map[uint64]Syscall{
		abi.SYS_BRK:      {Name: "brk", Fn: Brk, Support: Full},
		abi.SYS_MMAP:     {Name: "mmap", Fn: Mmap, Support: Full, Note: "MAP_HUGETLB fails with ENOMEM; MAP_POPULATE/MAP_LOCKED are accepted and ignored"},
		abi.SYS_MUNMAP:   {Name: "munmap", Fn: Munmap, Support: Full},
		abi.SYS_MPROTECT: {Name: "mprotect", Fn: Mprotect, Support: Full, Note: "PROT_GROWSDOWN/GROWSUP accepted and ignored"},
		abi.SYS_MREMAP:   {Name: "mremap", Fn: Mremap, Support: Full, Note: "MREMAP_DONTUNMAP for private anonymous memory only"},
		abi.SYS_MADVISE:  {Name: "madvise", Fn: Madvise, Support: Partial, Note: "DONTNEED/REMOVE/DONTFORK/WIPEONFORK act; MADV_FREE and performance advice do nothing; HWPOISON/SOFT_OFFLINE are EINVAL"},
		abi.SYS_MSYNC:    {Name: "msync", Fn: Msync, Support: Full},
		abi.SYS_MINCORE:  {Name: "mincore", Fn: Mincore, Support: Full},
	})
}

// Brk implements Linux syscall brk(2).
func Brk(t *Task, a *Args) (uint64, error) {
	m := t.Proc.MM
	old := m.Brk()
	brk := m.SetBrk(a.Addr(0))
	return uint64(m.lockGrowth(old, brk)), nil
}

// Mmap implements Linux syscall mmap(2).
func Mmap(t *Task, a *Args) (uint64, error) {
	addr, length, prot, flags, off := a.Addr(0), a[1], int(a.Int(2)), int(a.Int(3)), a[5]
	if off&(abi.PageSize-1) != 0 {
		return 0, abi.EINVAL
	}
	hostfd := -1
	if flags&abi.MAP_ANONYMOUS == 0 {
		fd, err := t.Proc.FDs.Get(a.Int(4))
		if err != nil {
			return 0, abi.EBADF
		}
		hostfd = fd
	}
	at, err := t.Proc.MM.Mmap(addr, length, prot, flags, hostfd, off)
	if err == nil {
		err = t.Proc.MM.lockNew(at, length)
	}
	if err != nil {
		return 0, err
	}
	return uint64(at), nil
}

// Munmap implements Linux syscall munmap(2).
func Munmap(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.MM.Munmap(a.Addr(0), a[1])
}

// Mprotect implements Linux syscall mprotect(2).
func Mprotect(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.MM.Mprotect(a.Addr(0), a[1], int(a.Int(2)))
}

// Mremap implements Linux syscall mremap(2).
func Mremap(t *Task, a *Args) (uint64, error) {
	at, err := t.Proc.MM.Mremap(a.Addr(0), a[1], a[2], int(a.Int(3)), a.Addr(4))
	if err == nil && a[2] > a[1] {
		err = t.Proc.MM.lockFutureRange(at, a[2]) // the old part is locked already
	}
	if err != nil {
		return 0, err
	}
	return uint64(at), nil
}

// Madvise implements Linux syscall madvise(2).
func Madvise(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.MM.Madvise(a.Addr(0), a[1], int(a.Int(2)))
}

// Msync implements Linux syscall msync(2).
func Msync(t *Task, a *Args) (uint64, error) {
	return 0, t.Proc.MM.Msync(a.Addr(0), a[1], int(a.Int(2)))
}

// mincoreChunk bounds the residency vector built per step.
const mincoreChunk = 1 << 16

// Mincore implements Linux syscall mincore(2).
func Mincore(t *Task, a *Args) (uint64, error) {
	addr, length, vecAddr := a.Addr(0), a[1], a.Addr(2)
	if !addr.PageAligned() {
		return 0, abi.EINVAL
	}
	end, ok := addr.AddLength(length)
	if !ok || end > t.Proc.MM.Limit() {
		return 0, abi.ENOMEM
	}
	pages := (length + abi.PageSize - 1) / abi.PageSize
	vec := make([]byte, min(pages, mincoreChunk))
	for done := uint64(0); done < pages; {
		n := min(pages-done, mincoreChunk)
		if err := t.Proc.MM.Mincore(addr+abi.Addr(done*abi.PageSize), vec[:n]); err != nil {
			return 0, err
		}
		if _, err := t.CopyOut(vecAddr+abi.Addr(done), vec[:n]); err != nil {
			return 0, abi.EFAULT
		}
		done += n
	}
	return 0, nil
}
