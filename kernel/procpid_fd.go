package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Descriptor links that name no path.
//
// /proc/<pid>/fd/N of a pipe, socket or anonymous inode reads as
// "pipe:[ino]", "socket:[ino]" or "anon_inode:[name]"; opening it opens
// the object behind it (Linux's proc_fd_link: a pipe opens as a FIFO
// would, a socket gives ENXIO). For another guest process, the link's
// target is rendered by its guestproc, which holds the object as a host
// descriptor: it answers with its host pid and that descriptor, and the
// reader opens the object through the host's /proc/<host pid>/fd/<host
// fd>, which is the same Linux operation on the same object (a new open
// file description with the opener's flags). Only these targets take
// this route; a link to a path is resolved as a path under the reader's
// root, so nothing outside the sysroot becomes reachable. The reader
// checks that what it opened still is the object the link named (the
// target may close the descriptor and its number be reused meanwhile).
//
// signalfd descriptors are host eventfds (sys_signal_fd.go): their links
// and fdinfo are rewritten to what Linux shows for a signalfd.

// procPeerFD is the object behind another process's descriptor link.
type procPeerFD struct {
	hostPid, hostFD int
	// target is the link as the process rendered it.
	target string
}

// signalfdLink is the link target of a signalfd descriptor.
const signalfdLink = "anon_inode:[signalfd]"

// procPeerTarget reports whether a descriptor link target names an
// object rather than a path.
func procPeerTarget(target string) bool {
	for _, p := range []string{"pipe:[", "socket:[", "anon_inode:"} {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return false
}

// procFdLink renders fd/N of the process: the link's target, and for an
// object without a path, the host descriptor behind it.
func (p *Process) procFdLink(fd int32) (ProcNode, error) {
	f, err := p.FDs.Acquire(fd)
	if err != nil {
		return ProcNode{}, abi.ENOENT
	}
	defer f.Release()
	target := p.describeHostFD(f.FD())
	if f.sigfd != nil {
		target = signalfdLink
	}
	if f.pidfd != nil {
		target = pidfdLink
	}
	n := ProcNode{Kind: ProcNodeLink, Target: target, LinkMode: fdLinkMode(f.FD())}
	if procPeerTarget(target) {
		n.HostPid, n.HostFD = os.Getpid(), f.FD()
	}
	return n, nil
}

// fdLinkMode is the st_mode of a descriptor's /proc link, as Linux's
// proc_fd_link sets it: r-x when open for reading, -wx for writing, no
// permission for O_PATH; 0 if the descriptor cannot be asked.
func fdLinkMode(hostfd int) uint32 {
	fl, err := unix.FcntlInt(uintptr(hostfd), unix.F_GETFL, 0)
	if err != nil {
		return 0
	}
	mode := uint32(unix.S_IFLNK)
	if fl&unix.O_PATH != 0 {
		return mode
	}
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		mode |= 0o500
	case unix.O_WRONLY:
		mode |= 0o300
	default:
		mode |= 0o700
	}
	return mode
}

// procPeerWalk ends a walk that follows the link of a peer object: the
// walk's node stands for the object (its peer set); below it, nothing.
func procPeerWalk(n *synthNode, remain string, trailing bool) (synthWalk, bool, error) {
	if strings.Trim(remain, "/") != "" || trailing {
		return synthWalk{}, true, abi.ENOTDIR
	}
	return synthWalk{node: &synthNode{path: n.path, kind: synthFile, perm: 0o444, peer: n.peer,
		gen: func(*Task) ([]byte, error) { return nil, abi.ENXIO }}}, true, nil
}

// open opens the object with the guest's open flags (O_PATH included);
// the host descriptor is close-on-exec. The host's /proc/PID/fd of
// another guestproc is elfuse's to open (its real ids are elfuse's, not
// the guest's): the walk through it runs with elfuse's credentials
// (creds_thread.go).
func (pf *procPeerFD) open(t *Task, how unix.OpenHow) (int, error) {
	h := how
	h.Flags = (h.Flags | unix.O_CLOEXEC) &^ unix.O_NOFOLLOW
	h.Resolve = 0
	fd := -1
	err := t.asHost(func() (err error) {
		fd, err = unix.Openat2(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pf.hostPid)+"/fd/"+strconv.Itoa(pf.hostFD), &h)
		return err
	})
	if err == unix.ENOENT || err == unix.ESRCH {
		return -1, abi.ENOENT // the descriptor or its process went away
	}
	if err != nil {
		return -1, err
	}
	got, lerr := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	same := lerr == nil && (got == pf.target ||
		strings.HasPrefix(got, "anon_inode:") && strings.HasPrefix(pf.target, "anon_inode:"))
	if !same {
		// The number now holds another object: the link is gone.
		unix.Close(fd)
		return -1, abi.ENOENT
	}
	return fd, nil
}

// peerPath is the resolver's answer for a walk that ended on a peer
// object: the object itself, open as O_PATH, for the calls that act on
// it (stat).
func (pf *procPeerFD) peerPath(t *Task) (hostPath, error) {
	fd, err := pf.open(t, unix.OpenHow{Flags: unix.O_PATH})
	if err != nil {
		return hostPath{}, err
	}
	return ownedPath(fd, ""), nil
}

// ownFDLink is the link node of the process's own descriptor fd when
// Linux names it differently from the host (a signalfd, which is a host
// eventfd); nil otherwise, or when the link is followed.
func (t *Task) ownFDLink(fd int32, f *HostFile, noFollow bool) *synthNode {
	if f.sigfd == nil && f.pidfd == nil || !noFollow {
		return nil
	}
	target := signalfdLink
	if f.pidfd != nil {
		target = pidfdLink
	}
	link := "/proc/" + strconv.Itoa(int(t.guestPid())) + "/fd/" + strconv.Itoa(int(fd))
	return &synthNode{path: link, kind: synthLink, perm: 0o700, target: target}
}

// signalfdFdinfo turns the host's fdinfo of a signalfd's eventfd into
// Linux's for the signalfd: the eventfd's lines give way to the mask
// (fs/signalfd.c's show_fdinfo, rendered as /proc status sigsets are).
func (t *Task) signalfdFdinfo(b []byte, sfd *signalFD) []byte {
	var out strings.Builder
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "eventfd-") {
			continue
		}
		out.WriteString(l + "\n")
	}
	fmt.Fprintf(&out, "sigmask:\t%016x\n", uint64(t.Proc.Signals.signalfdMask(sfd)))
	return []byte(out.String())
}
