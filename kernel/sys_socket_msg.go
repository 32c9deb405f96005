package kernel

import (
	"encoding/binary"
	"time"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Socket data transfer: sendto, recvfrom, sendmsg, recvmsg and their
// multi-message forms.
//
// Data goes straight between the host socket and guest memory. Sends
// always carry MSG_NOSIGNAL on the host and raise the guest's SIGPIPE
// themselves unless the guest passed MSG_NOSIGNAL; receives always carry
// MSG_CMSG_CLOEXEC, because every host descriptor elfuse holds is
// close-on-exec (the guest's choice is kept in the FDTable).
//
// Waiting. A call first waits for readiness through fd_wait.go (a guest
// signal interrupts it; SO_RCVTIMEO/SO_SNDTIMEO bound it), then makes the
// host call, which then finds data or room. Two kinds of call would still
// wait inside the host call after making progress: a send on a blocking
// stream socket larger than the free buffer space, and a MSG_WAITALL
// receive on one. Those run in parts with MSG_DONTWAIT and interruptible
// waits in between (sendStream, recvStream) and return the partial count
// when interrupted, as Linux does.
//
// Control messages. Sent ones are copied in, and two kinds rewritten in
// place (the host and guest layouts are the same): SCM_RIGHTS guest
// numbers become host descriptors (held with a reference until the host
// call returns), and in SCM_CREDENTIALS the sender's guest pid becomes its
// host pid, which the host kernel checks. Received ones are rewritten the
// other way: SCM_RIGHTS and SCM_PIDFD descriptors are installed in the
// FDTable; if the table fills up, the rest are closed and MSG_CTRUNC set,
// as Linux's scm_detach_fds does. Pids in credentials are translated by
// sockcred.go.

// Socket errnos that kernel/abi/errno.go does not name yet.
const (
	errEINPROGRESS = abi.EINPROGRESS
	errEMSGSIZE    = abi.EMSGSIZE
	errENOBUFS     = abi.ENOBUFS
	errENOPROTOOPT = abi.ENOPROTOOPT
)

// maxControl bounds the control buffer elfuse copies for one message; the
// host's own limit (optmem_max) is far lower.
const maxControl = 1 << 20

// noWaitRecv are the receive flags for which the host call never waits,
// so neither does elfuse before it.
const noWaitRecv = abi.MSG_DONTWAIT | abi.MSG_ERRQUEUE | abi.MSG_OOB

// sendEvents is the readiness a send of n bytes with flags waits for.
func sendEvents(flags, n int) int16 {
	if flags&abi.MSG_DONTWAIT != 0 {
		return 0
	}
	return ioEvents(false, n)
}

// recvEvents is the readiness a receive of n bytes with flags waits for.
func recvEvents(flags, n int) int16 {
	if flags&noWaitRecv != 0 {
		return 0
	}
	return ioEvents(true, n)
}

// sendDone raises SIGPIPE for a send that failed with EPIPE unless the
// guest asked not to be signalled.
func (t *Task) sendDone(flags int, err error) {
	if flags&abi.MSG_NOSIGNAL == 0 {
		t.sigpipeOnEPIPE(err)
	}
}

// Sendto implements Linux syscall sendto(2).
func Sendto(t *Task, a *Args) (uint64, error) {
	flags := int(a.Int(3))
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	b, err := t.ioBuf(a.Addr(1), a[2], false)
	if err != nil {
		return 0, err
	}
	var addr []byte
	if a.Addr(4) != 0 {
		var release func()
		addr, release, err = t.copyInSockaddr(a.Addr(4), a.Uint(5), false)
		if err != nil {
			return 0, err
		}
		defer release()
	}
	var n int
	if flags&abi.MSG_DONTWAIT == 0 && len(b) > 0 && blockingStream(f.FD()) {
		n, err = t.sendStream(f, len(b), flags, func(sent, flags int) (int, error) {
			return hostSendto(f.FD(), b[sent:], flags, addr)
		})
	} else {
		n, err = t.waitIO(func() (int, error) {
			return hostSendto(f.FD(), b, flags|unix.MSG_NOSIGNAL, addr)
		}, ioWait{f, sendEvents(flags, len(b))})
	}
	if err != nil {
		t.sendDone(flags, err)
		return 0, err
	}
	return uint64(n), nil
}

// Recvfrom implements Linux syscall recvfrom(2).
func Recvfrom(t *Task, a *Args) (uint64, error) {
	flags, addr, lenAddr := int(a.Int(3)), a.Addr(4), a.Addr(5)
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	b, err := t.ioBuf(a.Addr(1), a[2], true)
	if err != nil {
		return 0, err
	}
	var name []byte
	if addr != 0 {
		name = make([]byte, abi.SizeofSockaddrStorage)
	}
	var namelen int
	var n int
	if waitAll(f.FD(), flags, len(b), false) {
		n, err = t.recvStream(f, len(b), flags, func(got, flags int) (int, error) {
			n, nl, err := hostRecvfrom(f.FD(), b[got:], flags, name)
			if got == 0 {
				namelen = nl
			}
			return n, err
		})
	} else {
		n, err = t.waitIO(func() (int, error) {
			var n int
			var err error
			n, namelen, err = hostRecvfrom(f.FD(), b, flags|unix.MSG_CMSG_CLOEXEC, name)
			return n, err
		}, ioWait{f, recvEvents(flags, len(b))})
	}
	if err != nil {
		return 0, err
	}
	if addr != 0 {
		if err := t.copyOutSockaddr(addr, lenAddr, name, namelen); err != nil {
			return 0, err
		}
	}
	return uint64(n), nil
}

// blockingStream reports whether fd is a stream socket in blocking mode,
// where MSG_WAITALL can wait for more than one arrival.
func blockingStream(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		return false
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return err == nil && typ == unix.SOCK_STREAM
}

// recvStream is a MSG_WAITALL receive of total bytes on a blocking stream
// socket. The host call would wait for all of them uninterruptibly, so
// elfuse takes what has arrived without waiting (recv gets the count
// received so far and the flags to use) and waits for more with waitReady
// in between. As Linux's, it returns what it has got when the peer shuts
// down, an error occurs, a guest signal arrives or SO_RCVTIMEO passes, and
// the error only if it got nothing.
func (t *Task) recvStream(f *HostFile, total, flags int, recv func(got, flags int) (int, error)) (int, error) {
	flags = flags&^abi.MSG_WAITALL | unix.MSG_DONTWAIT | unix.MSG_CMSG_CLOEXEC
	return t.streamLoop(f, total, unix.POLLIN, true, func(done int) (int, error) { return recv(done, flags) })
}

// streamLoop repeats a non-blocking transfer until total bytes have moved,
// waiting for event with waitReady whenever the socket would block. A
// zero-byte result ends it when eofOnZero (a receive at end of stream).
// It returns the partial count on an error, a guest signal or a timeout,
// and the error only if nothing moved.
func (t *Task) streamLoop(f *HostFile, total int, event int16, eofOnZero bool, op func(done int) (int, error)) (int, error) {
	done := 0
	for done < total {
		n, err := op(done)
		switch {
		case err == nil && n == 0 && eofOnZero:
			return done, nil
		case err == nil:
			done += n
			continue
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if err := t.waitReady(f, event); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
	return done, nil
}

// waitAll reports whether a receive with flags of total bytes into no
// control buffer (hasControl false) is a MSG_WAITALL receive elfuse runs
// as recvStream. With a control buffer the host call is made as is: Linux
// ends such a receive at the first descriptors anyway.
func waitAll(fd, flags, total int, hasControl bool) bool {
	return flags&abi.MSG_WAITALL != 0 && flags&(noWaitRecv|abi.MSG_PEEK) == 0 && total > 0 && !hasControl &&
		blockingStream(fd)
}

// sendStream is a send of total bytes on a blocking stream socket, which
// Linux completes in full unless a signal, SO_SNDTIMEO or an error stops
// it after part of the data (the count is then returned, the error only
// if nothing was sent). The host call would wait for buffer space
// uninterruptibly, so elfuse sends what fits without waiting (send gets
// the count sent so far and the flags to use) and waits for room with
// waitReady in between.
func (t *Task) sendStream(f *HostFile, total, flags int, send func(sent, flags int) (int, error)) (int, error) {
	flags |= unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	return t.streamLoop(f, total, unix.POLLOUT, false, func(done int) (int, error) { return send(done, flags) })
}

// dropPrefix returns iovs without their first n bytes.
func dropPrefix(iovs [][]byte, n int) [][]byte {
	for len(iovs) > 0 && n >= len(iovs[0]) {
		n -= len(iovs[0])
		iovs = iovs[1:]
	}
	if n > 0 {
		iovs = append([][]byte{iovs[0][n:]}, iovs[1:]...)
	}
	return iovs
}

// copyInMsghdr reads a guest msghdr and the iovecs it points to; write
// says data will flow into them (recvmsg).
func (t *Task) copyInMsghdr(addr abi.Addr, write bool) (abi.Msghdr, [][]byte, error) {
	var raw [abi.SizeofMsghdr]byte
	var m abi.Msghdr
	if _, err := t.CopyIn(addr, raw[:]); err != nil {
		return m, nil, err
	}
	m.UnmarshalBytes(raw[:])
	if m.Iovlen > abi.UIO_MAXIOV {
		return m, nil, errEMSGSIZE
	}
	iovs, err := t.ioVecs(m.Iov, m.Iovlen, write)
	return m, iovs, err
}

// heldFiles are descriptors a sent SCM_RIGHTS message refers to, kept
// open until the host call has taken its own references.
type heldFiles []*HostFile

func (h heldFiles) release() {
	for _, f := range h {
		f.Release()
	}
}

// forEachCmsg calls fn for every well-formed control message in b with its
// header and data, stopping at the first malformed one (the host rejects
// it: EINVAL on send) or when fn fails.
func forEachCmsg(b []byte, fn func(h abi.Cmsghdr, data []byte) error) error {
	for off := uint64(0); off+abi.SizeofCmsghdr <= uint64(len(b)); {
		var h abi.Cmsghdr
		h.UnmarshalBytes(b[off:])
		if h.Len < abi.SizeofCmsghdr || h.Len > uint64(len(b))-off {
			return nil
		}
		if err := fn(h, b[off+abi.SizeofCmsghdr:off+h.Len]); err != nil {
			return err
		}
		off += abi.CmsgAlign(h.Len)
	}
	return nil
}

// sendControl translates a guest control buffer for the host in place.
// The caller releases the returned files after the host call, also on
// error. ucred says the buffer carries SCM_CREDENTIALS the guest's
// credentials allow: the host, which checks them against the thread's
// real ids (elfuse's), must then be asked with elfuse's credentials
// (sendCreds).
func (t *Task) sendControl(b []byte) (held heldFiles, ucred bool, err error) {
	err = forEachCmsg(b, func(h abi.Cmsghdr, data []byte) error {
		if h.Level != abi.SOL_SOCKET {
			return nil
		}
		switch h.Type {
		case abi.SCM_RIGHTS:
			n := len(data) / 4
			if n > abi.SCM_MAX_FD {
				return abi.EINVAL
			}
			for i := range n {
				f, err := t.Proc.FDs.Acquire(int32(binary.LittleEndian.Uint32(data[4*i:])))
				if err != nil {
					return err
				}
				held = append(held, f)
				binary.LittleEndian.PutUint32(data[4*i:], uint32(f.FD()))
			}
		case abi.SCM_CREDENTIALS:
			if len(data) >= abi.SizeofUcred {
				pid := int32(binary.LittleEndian.Uint32(data))
				if t.creds.guest {
					if err := t.checkUcred(pid, binary.LittleEndian.Uint32(data[4:]),
						binary.LittleEndian.Uint32(data[8:])); err != nil {
						return err
					}
					ucred = true
				}
				binary.LittleEndian.PutUint32(data, uint32(t.hostPidOf(pid)))
			}
		}
		return nil
	})
	return held, ucred, err
}

// checkUcred is Linux's scm_check_creds with the guest's credentials: a
// sender may name its own pid (any with CAP_SYS_ADMIN), one of its own
// uids and gids (any with CAP_SETUID, CAP_SETGID).
func (t *Task) checkUcred(pid int32, uid, gid uint32) error {
	c := t.Proc.Creds()
	pidOK := pid == t.Proc.Kernel.Host.Pid() || c.capable(abi.CAP_SYS_ADMIN)
	uidOK := uid == c.RUID || uid == c.EUID || uid == c.SUID || c.capable(abi.CAP_SETUID)
	gidOK := gid == c.RGID || gid == c.EGID || gid == c.SGID || c.capable(abi.CAP_SETGID)
	if !pidOK || !uidOK || !gidOK {
		return abi.EPERM
	}
	return nil
}

// sendCreds is hostSendmsg for a message whose credentials checkUcred
// allowed: the host checks them with elfuse's (creds_thread.go).
func (t *Task) sendCreds(fd int, m *hostMsg, flags int) (n int, err error) {
	err = t.asHost(func() (err error) {
		n, err = hostSendmsg(fd, m, flags)
		return err
	})
	return n, err
}

// recvControl translates a received host control buffer for the guest in
// place, installing received descriptors (close-on-exec if cloexec). It
// returns the guest numbers installed, so that the caller can close them
// if the guest never gets to see them, and whether some were dropped
// (MSG_CTRUNC).
func (t *Task) recvControl(b []byte, cloexec bool) (installed []int32, truncated bool) {
	fds := t.Proc.FDs
	forEachCmsg(b, func(h abi.Cmsghdr, data []byte) error {
		if h.Level != abi.SOL_SOCKET {
			return nil
		}
		switch h.Type {
		case abi.SCM_RIGHTS, abi.SCM_PIDFD:
			for i := 0; i+4 <= len(data); i += 4 {
				host := int(int32(binary.LittleEndian.Uint32(data[i:])))
				if truncated {
					unix.Close(host)
					binary.LittleEndian.PutUint32(data[i:], ^uint32(0))
					continue
				}
				g, err := fds.Install(host, cloexec, 0)
				if err != nil {
					unix.Close(host)
					truncated = true
					binary.LittleEndian.PutUint32(data[i:], ^uint32(0))
					continue
				}
				installed = append(installed, g)
				binary.LittleEndian.PutUint32(data[i:], uint32(g))
			}
		case abi.SCM_CREDENTIALS:
			if len(data) >= abi.SizeofUcred {
				pid := int32(binary.LittleEndian.Uint32(data))
				binary.LittleEndian.PutUint32(data, uint32(t.guestPidOf(pid)))
			}
		}
		return nil
	})
	return installed, truncated
}

// sendmsg is the core of sendmsg and sendmmsg: it sends the message whose
// msghdr is at addr.
func (t *Task) sendmsg(f *HostFile, addr abi.Addr, flags int) (int, error) {
	m, iovs, err := t.copyInMsghdr(addr, false)
	if err != nil {
		return 0, err
	}
	hm := hostMsg{iovs: iovs}
	send := hostSendmsg
	if m.Name != 0 {
		// copy_msghdr_from_user clamps an overlong name instead of
		// failing.
		if int32(m.Namelen) < 0 {
			return 0, abi.EINVAL
		}
		name, release, err := t.copyInSockaddr(m.Name, min(m.Namelen, abi.SizeofSockaddrStorage), false)
		if err != nil {
			return 0, err
		}
		defer release()
		hm.name = name
	}
	if m.Controllen > 0 {
		if m.Controllen > 1<<31-1 || m.Controllen > maxControl {
			return 0, errENOBUFS
		}
		hm.control = make([]byte, m.Controllen)
		if _, err := t.CopyIn(m.Control, hm.control); err != nil {
			return 0, err
		}
		held, ucred, err := t.sendControl(hm.control)
		defer held.release()
		if err != nil {
			return 0, err
		}
		if ucred {
			send = t.sendCreds
		}
	}
	var n int
	if total := iovLen(iovs); flags&abi.MSG_DONTWAIT == 0 && total > 0 && blockingStream(f.FD()) {
		// Control messages go with the first part only, as Linux
		// attaches them to the first buffer of a stream send.
		n, err = t.sendStream(f, total, flags, func(sent, flags int) (int, error) {
			part := hm
			if sent > 0 {
				part.iovs, part.control = dropPrefix(iovs, sent), nil
			}
			return send(f.FD(), &part, flags)
		})
	} else {
		n, err = t.waitIO(func() (int, error) {
			return send(f.FD(), &hm, flags|unix.MSG_NOSIGNAL)
		}, ioWait{f, sendEvents(flags, iovLen(iovs))})
	}
	if err != nil {
		t.sendDone(flags, err)
		return 0, err
	}
	return n, nil
}

// recvmsg is the core of recvmsg and recvmmsg: it receives into the
// message whose msghdr is at addr and writes back msg_namelen,
// msg_controllen and msg_flags.
func (t *Task) recvmsg(f *HostFile, addr abi.Addr, flags int) (int, error) {
	m, iovs, err := t.copyInMsghdr(addr, true)
	if err != nil {
		return 0, err
	}
	hm := hostMsg{iovs: iovs}
	if m.Name != 0 {
		if int32(m.Namelen) < 0 {
			return 0, abi.EINVAL
		}
		hm.name = make([]byte, abi.SizeofSockaddrStorage)
	}
	if m.Controllen > 0 {
		hm.control = make([]byte, min(m.Controllen, maxControl))
	}
	var n int
	if total := iovLen(iovs); waitAll(f.FD(), flags, total, len(hm.control) > 0) {
		n, err = t.recvStream(f, total, flags, func(got, flags int) (int, error) {
			part := hm
			part.iovs = dropPrefix(iovs, got)
			n, err := hostRecvmsg(f.FD(), &part, flags)
			if err == nil && got == 0 {
				hm.namelen, hm.flags = part.namelen, part.flags
			}
			return n, err
		})
	} else {
		n, err = t.waitIO(func() (int, error) {
			return hostRecvmsg(f.FD(), &hm, flags|unix.MSG_CMSG_CLOEXEC)
		}, ioWait{f, recvEvents(flags, iovLen(iovs))})
	}
	if err != nil {
		return 0, err
	}
	// Linux hands the input flag MSG_CMSG_CLOEXEC back in msg_flags; the
	// host saw elfuse's own, which the guest must not.
	hm.flags = hm.flags&^unix.MSG_CMSG_CLOEXEC | flags&abi.MSG_CMSG_CLOEXEC
	control := hm.control[:min(hm.controllen, len(hm.control))]
	installed, truncated := t.recvControl(control, flags&abi.MSG_CMSG_CLOEXEC != 0)
	if truncated {
		hm.flags |= abi.MSG_CTRUNC
	}
	if err := t.finishRecvmsg(addr, &m, &hm, control); err != nil {
		for _, g := range installed {
			t.Proc.FDs.Close(g)
		}
		return 0, err
	}
	return n, nil
}

// finishRecvmsg stores what recvmsg returns besides data: the source
// address, the control messages, and the msghdr fields that describe
// them.
func (t *Task) finishRecvmsg(addr abi.Addr, m *abi.Msghdr, hm *hostMsg, control []byte) error {
	if m.Name != 0 {
		if err := t.copyOutSockaddr(m.Name, addr+abi.MsghdrNamelenOffset, hm.name, hm.namelen); err != nil {
			return err
		}
	}
	if len(control) > 0 {
		if _, err := t.CopyOut(m.Control, control); err != nil {
			return err
		}
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(control)))
	if _, err := t.CopyOut(addr+abi.MsghdrControllenOffset, b[:]); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[:4], uint32(int32(hm.flags)))
	_, err := t.CopyOut(addr+abi.MsghdrFlagsOffset, b[:4])
	return err
}

// Sendmsg implements Linux syscall sendmsg(2).
func Sendmsg(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	n, err := t.sendmsg(f, a.Addr(1), int(a.Int(2)))
	return uint64(n), err
}

// Recvmsg implements Linux syscall recvmsg(2).
func Recvmsg(t *Task, a *Args) (uint64, error) {
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	n, err := t.recvmsg(f, a.Addr(1), int(a.Int(2)))
	return uint64(n), err
}

// putMsgLen stores one mmsghdr's msg_len.
func (t *Task) putMsgLen(entry abi.Addr, n int) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	_, err := t.CopyOut(entry+abi.MmsghdrLenOffset, b[:])
	return err
}

// Sendmmsg implements Linux syscall sendmmsg(2). As Linux, an error after
// the first message ends the batch and is not reported: the count is.
func Sendmmsg(t *Task, a *Args) (uint64, error) {
	vec, vlen, flags := a.Addr(1), min(a.Uint(2), abi.UIO_MAXIOV), int(a.Int(3))
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	sent := 0
	for i := range int(vlen) {
		entry := vec + abi.Addr(i*abi.SizeofMmsghdr)
		n, err := t.sendmsg(f, entry, flags)
		if err == nil {
			err = t.putMsgLen(entry, n)
		}
		if err != nil {
			if sent == 0 {
				return 0, err
			}
			break
		}
		sent++
	}
	return uint64(sent), nil
}

// Recvmmsg implements Linux syscall recvmmsg(2). As Linux, the timeout is
// only checked between messages (a receive itself waits as long as it
// waits), the time left is written back, and an error after the first
// message ends the batch unreported.
func Recvmmsg(t *Task, a *Args) (uint64, error) {
	vec, vlen, flags, tsAddr := a.Addr(1), min(a.Uint(2), abi.UIO_MAXIOV), int(a.Int(3)), a.Addr(4)
	f, err := t.acquireSocket(a.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.Release()
	dl := deadline{forever: true}
	if tsAddr != 0 {
		ts, err := copyInTimespec(t, tsAddr)
		if err != nil {
			return 0, err
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, abi.EINVAL
		}
		dl = deadlineAfter(time.Duration(ts.Nanoseconds()))
	}
	got := 0
	flags &^= abi.MSG_WAITFORONE
	waitForOne := a.Int(3)&abi.MSG_WAITFORONE != 0
	for i := range int(vlen) {
		entry := vec + abi.Addr(i*abi.SizeofMmsghdr)
		n, err := t.recvmsg(f, entry, flags)
		if err == nil {
			err = t.putMsgLen(entry, n)
		}
		if err != nil {
			if got == 0 {
				return 0, err
			}
			break
		}
		got++
		if waitForOne {
			flags |= abi.MSG_DONTWAIT
		}
		if !dl.forever && dl.remaining() == 0 {
			break
		}
	}
	if tsAddr != 0 && got > 0 {
		left := abi.NsecToTimespec(dl.remaining().Nanoseconds())
		if err := copyOutTimespec(t, tsAddr, left); err != nil {
			return 0, err
		}
	}
	return uint64(got), nil
}
