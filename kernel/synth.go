package kernel

import (
	"hash/fnv"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Synthetic /proc and /dev.
//
// The guest's /proc and /dev are served by the kernel, with and without
// --sysroot: the host's would describe the guestproc (its pid, its
// descriptors, elfuse itself as /proc/self/exe). syntheticPath (the hook
// in sys_fs_path.go) sees every path before the host does and walks the
// synthetic tree (procfs.go, devfs.go). A walk ends in one of:
//
//   - a synthetic node (file, directory or symlink). Opening a file
//     generates its content into a sealed, read-only memfd whose name is
//     synthMemfdPrefix plus the node's path; a directory opens as an empty
//     memfd of the same naming. The name is how a descriptor is recognised
//     later (fstat, getdents, *at relative to it): it survives dup, fork
//     and SCM_RIGHTS, so no side table can go stale. A directory's read
//     position is the memfd's file offset (shared by dups, as Linux's).
//   - a host object passed through (the /dev devices, /dev/pts, /dev/shm,
//     /proc/sys, /proc/self/net): the host answers.
//   - a path outside the synthetic tree that a symlink led to
//     (/proc/self/cwd/..., /proc/self/exe): the caller resolves it as any
//     guest path.
//
// Every synthetic node reports device synthDev and the 64-bit FNV-1a hash
// of its canonical path (/proc/<pid>/... rather than /proc/self/...) as
// inode, with st_blksize 4096: distinct files have distinct identities,
// the same file keeps its identity, and tree walkers see no loops.

// synthDev is the device number of every synthetic node.
var synthDev = unix.Mkdev(0, 0x3e)

// synthMemfdPrefix names the memfds that back synthetic descriptors.
const synthMemfdPrefix = "elfuse-synth:"

// synthKind says what a synthetic node is.
type synthKind int

const (
	synthFile synthKind = iota
	synthDir
	synthLink
	synthHost
	// synthRedirect hands the walk, with what is left of the path, to
	// the ordinary resolver at target (the guest fd directory).
	synthRedirect
)

// synthNode is one entry of the synthetic tree.
type synthNode struct {
	// path is the canonical guest path; its hash is the inode number.
	path string
	kind synthKind
	// perm holds the permission bits.
	perm uint32
	// gen produces a file's content.
	gen func(t *Task) ([]byte, error)
	// target is a symlink's target.
	target string
	// host is the host path a synthHost node passes through to; rest is
	// the guest's remainder below it, resolved contained in host.
	host string
	rest string
	// writable says a host node may be opened for writing.
	writable bool
	// guestLinks says the symlinks below host are the guest's own
	// (/dev/shm): followed from the guest's root (devfs_shm_links.go),
	// not contained in host.
	guestLinks bool
	// put, on a file, takes what the guest writes to it (procfs_comm.go);
	// without it the file cannot be opened for writing.
	put synthPut
	// entries is the listing of a directory of another process, which
	// came with the answer that made the node (procpid.go).
	entries []synthDirent
	// peer is set on another process's descriptor link to an object
	// without a path, and on the node a walk through it ends on
	// (procpid_fd.go).
	peer *procPeerFD
}

// synthDirent is one directory entry of a synthetic directory.
type synthDirent struct {
	name string
	typ  uint8
}

// synthIno is the inode number of the node at canonical path p.
func synthIno(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	return h.Sum64()
}

// synthEpoch is the time every synthetic node reports (procfs shows the
// time its inode was instantiated).
var synthEpoch = time.Now()

// stat describes n as fstatat(2) would.
func (n *synthNode) stat(t *Task) unix.Stat_t {
	mode := n.perm
	nlink := uint64(1)
	switch n.kind {
	case synthDir:
		mode |= unix.S_IFDIR
		nlink = 2
	case synthLink:
		mode |= unix.S_IFLNK
	default:
		mode |= unix.S_IFREG
	}
	c := t.Proc.Creds()
	ts := unix.NsecToTimespec(synthEpoch.UnixNano())
	st := unix.Stat_t{Dev: synthDev, Ino: synthIno(n.path), Nlink: nlink, Mode: mode,
		Uid: c.EUID, Gid: c.EGID, Blksize: 4096, Atim: ts, Mtim: ts, Ctim: ts}
	if n.kind == synthLink {
		st.Size = int64(len(n.target))
	}
	return st
}

// synthWalk is the result of walking a guest path through the tree.
type synthWalk struct {
	node *synthNode
	// outside is the guest path a symlink led to out of the tree (node nil).
	outside string
}

// maxSynthLinks bounds symlink hops in one walk (Linux's MAXSYMLINKS).
const maxSynthLinks = 40

// synthTopName returns the first real component of the absolute path p
// ("." and ".." at the root skipped) and the raw remainder after it.
func synthTopName(p string) (top, rest string) {
	for {
		p = strings.TrimLeft(p, "/")
		name, r, _ := strings.Cut(p, "/")
		if name != "." && name != ".." || p == "" {
			return name, r
		}
		p = r
	}
}

// isSynthRoot reports whether the absolute path p lies in the synthetic
// tree.
func isSynthRoot(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	top, _ := synthTopName(p)
	return top == "proc" || top == "dev"
}

// synthLookup walks the absolute guest path p; ok=false says p is not in
// the synthetic tree. follow says a final symlink is followed. The walk
// is by component, as Linux's: ".." after a symlink is the parent of its
// target, which the walk hands to the resolver (outside).
func (t *Task) synthLookup(p string, follow bool) (w synthWalk, ok bool, err error) {
	if !isSynthRoot(p) {
		return synthWalk{}, false, nil
	}
	return t.synthWalk(p, follow, 0)
}

// synthWalk is synthLookup after hops symlinks.
func (t *Task) synthWalk(p string, follow bool, hops int) (synthWalk, bool, error) {
	trailing := strings.HasSuffix(p, "/")
	if trailing {
		follow = true
	}
	top, rest := synthTopName(p)
	cur := t.synthTop(top)
	comps := strings.Split(rest, "/")
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		remain := strings.Join(comps[i+1:], "/")
		switch c {
		case "", ".":
			continue
		case "..":
			parent := path.Dir(cur.path)
			if parent == "/" {
				return synthWalk{outside: "/" + remain}, true, nil
			}
			n, _, err := t.synthResolve(parent)
			if err != nil {
				return synthWalk{}, true, err
			}
			cur = n
			continue
		}
		if cur.kind != synthDir {
			return synthWalk{}, true, abi.ENOTDIR
		}
		n := t.synthChild(cur, c)
		if n == nil {
			return synthWalk{}, true, abi.ENOENT
		}
		last := strings.Trim(remain, "/") == ""
		switch n.kind {
		case synthRedirect:
			next := n.target
			if remain != "" {
				next += "/" + remain
			}
			return synthWalk{outside: next}, true, nil
		case synthHost:
			if !last && slices.Contains(comps[i+1:], "..") {
				// ".." below a host directory is taken lexically (these
				// directories hold no symlinks of the host's); it may climb
				// back into the synthetic tree or out of it.
				clean := path.Clean(n.path + "/" + remain)
				if r, below := strings.CutPrefix(clean, n.path+"/"); below {
					remain = r
				} else if clean != n.path {
					if !isSynthRoot(clean) {
						return synthWalk{outside: clean}, true, nil
					}
					return t.synthWalk(clean, follow, hops)
				} else {
					last = true
				}
			}
			if !last {
				n = &synthNode{path: n.path, kind: synthHost, host: n.host, rest: remain, writable: n.writable,
					guestLinks: n.guestLinks}
			}
			return synthWalk{node: n}, true, nil
		case synthLink:
			if last && !follow {
				return synthWalk{node: n}, true, nil
			}
			if n.peer != nil {
				return procPeerWalk(n, remain, trailing)
			}
			hops++
			if hops > maxSynthLinks {
				return synthWalk{}, true, abi.ELOOP
			}
			next := n.target
			if !strings.HasPrefix(next, "/") {
				next = path.Dir(n.path) + "/" + next
			}
			if remain != "" {
				next = strings.TrimRight(next, "/") + "/" + remain
			} else if trailing {
				next = strings.TrimRight(next, "/") + "/"
			}
			if !isSynthRoot(next) {
				return synthWalk{outside: next}, true, nil
			}
			return t.synthWalk(next, follow, hops)
		}
		cur = n
	}
	if trailing && cur.kind == synthFile {
		return synthWalk{}, true, abi.ENOTDIR
	}
	return synthWalk{node: cur}, true, nil
}

// synthResolve finds the node at the canonical (symlink-free, clean)
// path p.
func (t *Task) synthResolve(p string) (n *synthNode, rest string, err error) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	n = t.synthTop(parts[0])
	for i := 1; i < len(parts); i++ {
		if n.kind != synthDir {
			return n, strings.Join(parts[i:], "/"), nil
		}
		c := t.synthChild(n, parts[i])
		if c == nil {
			return nil, "", abi.ENOENT
		}
		n = c
	}
	return n, "", nil
}

// synthTop returns the node of /proc or /dev.
func (t *Task) synthTop(name string) *synthNode {
	if name == "dev" {
		return &synthNode{path: "/dev", kind: synthDir, perm: 0o755}
	}
	return &synthNode{path: "/proc", kind: synthDir, perm: 0o555}
}

// synthChild looks name up in directory n (nil: no such entry).
func (t *Task) synthChild(n *synthNode, name string) *synthNode {
	if n.path == "/proc" {
		return t.procRootChild(n, name)
	}
	if c, ok := t.procRemoteChild(n, name); ok {
		return c
	}
	for _, e := range t.synthList(n) {
		if e.name == name {
			return t.synthMake(n, name)
		}
	}
	return nil
}

// synthList returns the entries of directory n, sorted by name.
func (t *Task) synthList(n *synthNode) []synthDirent {
	var ents []synthDirent
	if n.path == "/dev" || strings.HasPrefix(n.path, "/dev/") {
		ents = t.devList(n)
	} else if remote, ok := t.procRemoteList(n); ok {
		ents = slices.Clone(remote)
	} else {
		ents = t.procList(n)
	}
	// By name, but pids last and in numeric order, as Linux lists /proc
	// (ps shows processes in the order it reads them).
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i].name, ents[j].name
		pa, pb := isPidName(a), isPidName(b)
		if pa != pb {
			return pb
		}
		if pa && len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	})
	return ents
}

// synthMake builds the node for entry name of directory n.
func (t *Task) synthMake(n *synthNode, name string) *synthNode {
	if n.path == "/dev" || strings.HasPrefix(n.path, "/dev/") {
		return t.devMake(n, name)
	}
	return t.procMake(n, name)
}

// Memfd identification.

var (
	memfdDevOnce sync.Once
	memfdDev     uint64
)

// shmemDev returns the device number of memfds (0 if unknown).
func shmemDev() uint64 {
	memfdDevOnce.Do(func() {
		fd, err := unix.MemfdCreate("elfuse-probe", unix.MFD_CLOEXEC)
		if err != nil {
			return
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			memfdDev = st.Dev
		}
	})
	return memfdDev
}

// synthPathOfFD returns the canonical synthetic path a host descriptor was
// opened for, and whether it is a directory; ok=false for every other
// descriptor. st is the descriptor's host stat.
func synthPathOfFD(hostfd int, st *unix.Stat_t) (p string, dir bool, ok bool) {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != shmemDev() || st.Dev == 0 {
		return "", false, false
	}
	buf := make([]byte, 2*abi.PATH_MAX)
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(hostfd), buf)
	if err != nil {
		return "", false, false
	}
	name, found := strings.CutPrefix(string(buf[:n]), "/memfd:"+synthMemfdPrefix)
	if !found {
		return "", false, false
	}
	name = strings.TrimSuffix(name, " (deleted)")
	if d, found := strings.CutPrefix(name, "dir:"); found {
		return d, true, true
	}
	return name, false, true
}

// synthFD reports whether the guest descriptor's host fd is a synthetic
// one and which node path it holds.
func synthFD(hostfd int) (p string, dir bool, ok bool) {
	var st unix.Stat_t
	if unix.Fstat(hostfd, &st) != nil {
		return "", false, false
	}
	return synthPathOfFD(hostfd, &st)
}

// synthMemfd creates a sealed read-only memfd holding data, named for
// canonical path p.
func synthMemfd(p string, dir bool, data []byte) (int, error) {
	name := synthMemfdPrefix + p
	if dir {
		name = synthMemfdPrefix + "dir:" + p
	}
	if len(name) > 249 {
		name = name[:249] // memfd names are at most 249 bytes
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		data = data[n:]
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Reopen read-only so that the descriptor the guest holds cannot
	// write even where seals are not enforced.
	ro, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	if err != nil {
		return -1, err
	}
	return ro, nil
}

// synthOpenNode opens node n for the guest with open flags how.
func (t *Task) synthOpenNode(n *synthNode, how unix.OpenHow) (int, error) {
	acc := how.Flags & unix.O_ACCMODE
	write := acc != unix.O_RDONLY || how.Flags&(unix.O_TRUNC|unix.O_CREAT) != 0
	if n.peer != nil && n.kind != synthLink {
		return n.peer.open(t, how)
	}
	switch n.kind {
	case synthHost:
		if write && !n.writable {
			return -1, abi.EACCES
		}
		if n.path == devTTY {
			return t.openDevTTY(how) // devfs_tty.go
		}
		if n.rest == "" {
			h := how
			h.Flags |= unix.O_CLOEXEC
			h.Resolve = 0
			return unix.Openat2(unix.AT_FDCWD, n.host, &h)
		}
		base, err := unix.Open(n.host, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		defer unix.Close(base)
		h := how
		h.Resolve = 0
		if n.guestLinks {
			return openGuestLinks(n, base, h) // devfs_shm_links.go
		}
		return openat2In(base, n.rest, h)
	case synthDir:
		if write {
			return -1, abi.EISDIR
		}
		return synthMemfd(n.path, true, nil)
	case synthLink:
		// Reached only with O_NOFOLLOW (or O_PATH|O_NOFOLLOW).
		if how.Flags&unix.O_PATH != 0 {
			return synthMemfd(n.path, false, nil)
		}
		return -1, abi.ELOOP
	}
	if how.Flags&unix.O_CREAT != 0 && how.Flags&unix.O_EXCL != 0 {
		return -1, abi.EEXIST
	}
	if how.Flags&unix.O_DIRECTORY != 0 {
		return -1, abi.ENOTDIR
	}
	put := n.put
	if write && put == nil {
		var err error
		if put, err = t.unwritablePut(n); err != nil { // procfs_comm.go
			return -1, err
		}
	}
	data, err := n.gen(t)
	if err != nil {
		return -1, err
	}
	if write {
		return t.synthOpenPut(n, put, data, how) // procfs_comm.go
	}
	return synthMemfd(n.path, false, data)
}
