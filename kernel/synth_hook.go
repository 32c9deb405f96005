package kernel

import (
	"encoding/binary"
	"errors"
	"path"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// The resolver's side of the synthetic tree (see synth.go): the hooks the
// path, open, stat, readlink and getdents code calls.

// synthAbs turns a guest path at guest dirfd into an absolute guest path
// when it lies in the synthetic tree: an absolute path as is, a relative
// one when dirfd is a synthetic directory (or file, for "").
func (t *Task) synthAbs(dirfd int32, p string) (string, bool) {
	if strings.HasPrefix(p, "/") {
		return p, true
	}
	if dirfd == abi.AT_FDCWD {
		cwd, ok := synthCwd()
		if !ok {
			return "", false
		}
		if p == "" {
			return cwd, true
		}
		return cwd + "/" + p, true
	}
	f, err := t.Proc.FDs.Acquire(dirfd)
	if err != nil {
		return "", false
	}
	defer f.Release()
	dp, _, ok := synthFD(f.FD())
	if !ok {
		return "", false
	}
	if p == "" {
		return dp, true
	}
	return dp + "/" + p, true
}

// synthPath is syntheticPath's work: ok=true answers the lookup with p
// (p.synth set for synthetic nodes); next != "" says the walk left the
// tree through a symlink and the caller resolves next instead.
func (t *Task) synthPath(dirfd int32, gp string, flags pathFlags) (p hostPath, next string, ok bool, err error) {
	abs, in := t.synthAbs(dirfd, gp)
	if !in {
		return hostPath{}, "", false, nil
	}
	w, in, err := t.synthLookup(abs, flags&pathNoFollow == 0)
	if !in {
		return hostPath{}, "", false, nil
	}
	if err != nil {
		return hostPath{}, "", true, err
	}
	if w.node == nil {
		if isFDDirPath(w.outside) && flags&pathWrite == 0 {
			// The own fd directory itself: a synthetic directory for
			// chdir and stat (not the guestproc's host /proc/self/fd);
			// the names in it stay the resolver's.
			fdDir := &synthNode{path: "/proc/" + strconv.Itoa(int(t.guestPid())) + "/fd", kind: synthDir, perm: 0o500}
			dir, err := t.synthCwdMarker(fdDir.path)
			if errors.Is(err, errNoMarkers) {
				return hostPath{}, w.outside, false, nil
			}
			if err != nil {
				return hostPath{}, "", true, err
			}
			// Opened, it is the guest's fd directory (fd_dir.go), whose
			// listing is the descriptor table, not the marker's.
			return hostPath{dirfd: unix.AT_FDCWD, path: dir, synth: fdDir, fdDir: true}, "", true, nil
		}
		w.node = t.synthFDNode(w.outside, flags&pathNoFollow != 0)
		if w.node == nil {
			return hostPath{}, w.outside, false, nil
		}
	}
	n := w.node
	if n.peer != nil && n.kind != synthLink {
		hp, err := n.peer.peerPath(t)
		return hp, "", true, err
	}
	if n.kind == synthHost {
		if flags&pathWrite != 0 && !n.writable {
			return hostPath{}, "", true, abi.EACCES
		}
		if n.rest == "" {
			return hostPath{dirfd: unix.AT_FDCWD, path: n.host}, "", true, nil
		}
		// Below a host directory (/dev/shm, /proc/sys...): contained in
		// it, so a guest's symlink there cannot reach other host files.
		base, err := unix.Open(n.host, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return hostPath{}, "", true, err
		}
		defer unix.Close(base)
		if n.guestLinks {
			hp, err := t.lookupGuestLinks(n, base, flags) // devfs_shm_links.go
			return hp, "", true, err
		}
		hp, err := (*Root)(nil).lookup(base, n.rest, nil, flags)
		return hp, "", true, err
	}
	if flags&pathWrite != 0 {
		return hostPath{}, "", true, abi.EACCES
	}
	if n.kind == synthDir {
		// A directory's host stand-in is its marker (synth_cwd.go), so
		// chdir works; stat and getdents answer from n.
		dir, err := t.synthCwdMarker(n.path)
		if err == nil {
			return hostPath{dirfd: unix.AT_FDCWD, path: dir, synth: n}, "", true, nil
		}
		if !errors.Is(err, errNoMarkers) {
			return hostPath{}, "", true, err
		}
	}
	// Calls that do not know synthetic nodes act on an empty memfd: access
	// succeeds, chdir fails with ENOTDIR.
	fd, err := unix.MemfdCreate(synthMemfdPrefix+"path", unix.MFD_CLOEXEC)
	if err != nil {
		return hostPath{}, "", true, err
	}
	hp := ownedPath(fd, "")
	hp.synth = n
	return hp, "", true, nil
}

// synthFDNode returns, for p naming an own descriptor that is a
// synthetic file or directory (/proc/self/fd/N, /dev/fd/N), the link as
// Linux shows it (noFollow) or the node it leads to; nil for every other
// path. The host's magic link would name the memfd behind it.
func (t *Task) synthFDNode(p string, noFollow bool) *synthNode {
	fd, tail, ok := fdLinkName(p)
	if !ok || tail != "" {
		return nil
	}
	f, err := t.Proc.FDs.Acquire(fd)
	if err != nil {
		return nil
	}
	defer f.Release()
	target, dir, ok := synthFD(f.FD())
	if !ok {
		return t.ownFDLink(fd, f, noFollow)
	}
	if noFollow {
		link := "/proc/" + strconv.Itoa(int(t.guestPid())) + "/fd/" + strconv.Itoa(int(fd))
		return &synthNode{path: link, kind: synthLink, perm: 0o700, target: target}
	}
	if dir {
		return &synthNode{path: target, kind: synthDir, perm: 0o555}
	}
	return &synthNode{path: target, kind: synthFile, perm: 0o444,
		gen: func(*Task) ([]byte, error) { return nil, abi.ENOENT }} // opens go through synthOpen
}

// synthOpen is the open family's hook: ok=true answers with a host
// descriptor; next != "" replaces the path (a symlink led out of the
// tree).
func (t *Task) synthOpen(dirfd int32, gp string, how unix.OpenHow) (fd int, next string, ok bool, err error) {
	abs, in := t.synthAbs(dirfd, gp)
	if !in {
		return -1, "", false, nil
	}
	follow := how.Flags&unix.O_NOFOLLOW == 0
	w, in, err := t.synthLookup(abs, follow)
	if !in {
		return -1, "", false, nil
	}
	if err != nil {
		return -1, "", true, err
	}
	if w.node == nil {
		return -1, w.outside, false, nil
	}
	fd, err = t.synthOpenNode(w.node, how)
	return fd, "", true, err
}

// synthStatFD answers fstat for a synthetic host descriptor; ok=false for
// others (hs then holds the host's answer).
func synthStatFD(t *Task, hostfd int, hs *unix.Stat_t) bool {
	p, dir, ok := synthPathOfFD(hostfd, hs)
	if !ok {
		return false
	}
	n := &synthNode{path: p, kind: synthFile, perm: 0o444}
	if dir {
		n.kind, n.perm = synthDir, 0o555
	}
	*hs = n.stat(t)
	return true
}

// synthStatx converts a synthetic stat into statx fields.
func synthStatx(st *unix.Stat_t) unix.Statx_t {
	ts := unix.StatxTimestamp{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)}
	return unix.Statx_t{
		Mask:    unix.STATX_BASIC_STATS,
		Blksize: uint32(st.Blksize), Nlink: uint32(st.Nlink), Uid: st.Uid, Gid: st.Gid,
		Mode: uint16(st.Mode), Ino: st.Ino, Size: uint64(st.Size),
		Atime: ts, Ctime: ts, Mtime: ts, Btime: ts,
		Dev_major: unix.Major(st.Dev), Dev_minor: unix.Minor(st.Dev),
	}
}

// synthReadlink answers readlink of a synthetic node.
func (t *Task) synthReadlink(n *synthNode, bufAddr abi.Addr, size int) (uint64, error) {
	if n.kind != synthLink {
		return 0, abi.EINVAL
	}
	b := []byte(n.target)[:min(len(n.target), size)]
	if _, err := t.CopyOut(bufAddr, b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}

// synthGetdents fills buf with linux_dirent64 records of the synthetic
// directory open as hostfd (ok=false: hostfd is not one). The read
// position is the memfd's offset, counted in entries.
func (t *Task) synthGetdents(hostfd int, buf []byte) (n int, ok bool, err error) {
	dp, dir, isSynth := synthFD(hostfd)
	if !isSynth {
		return 0, false, nil
	}
	if !dir {
		return 0, true, abi.ENOTDIR
	}
	w, _, err := t.synthLookup(dp, true)
	if err != nil || w.node == nil || w.node.kind != synthDir {
		return 0, true, abi.ENOENT // the directory went away (a pid's)
	}
	type entry struct {
		name string
		typ  uint8
		ino  uint64
	}
	entries := []entry{{".", abi.DT_DIR, synthIno(dp)}, {"..", abi.DT_DIR, synthIno(path.Dir(dp))}}
	for _, e := range t.synthList(w.node) {
		entries = append(entries, entry{e.name, e.typ, synthIno(dp + "/" + e.name)})
	}
	pos, err := unix.Seek(hostfd, 0, unix.SEEK_CUR)
	if err != nil {
		return 0, true, err
	}
	for pos < int64(len(entries)) {
		e := entries[pos]
		reclen := (abi.SizeofDirent64Head + len(e.name) + 1 + 7) &^ 7
		if n+reclen > len(buf) {
			if n == 0 {
				return 0, true, abi.EINVAL
			}
			break
		}
		rec := buf[n : n+reclen]
		clear(rec)
		binary.LittleEndian.PutUint64(rec[0:], e.ino)
		binary.LittleEndian.PutUint64(rec[8:], uint64(pos+1))
		binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
		rec[18] = e.typ
		copy(rec[abi.SizeofDirent64Head:], e.name)
		n += reclen
		pos++
	}
	if _, err := unix.Seek(hostfd, pos, unix.SEEK_SET); err != nil {
		return 0, true, err
	}
	return n, true, nil
}
