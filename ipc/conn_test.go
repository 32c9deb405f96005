package ipc

import (
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMessageRoundTrip(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	want := Start{Path: "/bin/true", Argv: []string{"true", "x"}, Pid: 1, Timeout: 10}
	if err := a.Send(MsgStart, want); err != nil {
		t.Fatal(err)
	}
	var got Start
	if _, err := b.Expect(MsgStart, &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != want.Path || len(got.Argv) != 2 || got.Argv[1] != "x" || got.Pid != 1 || got.Timeout != 10 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestExpectRejectsWrongType(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if err := a.Send(MsgStarted, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Expect(MsgExited, nil); err == nil {
		t.Fatal("Expect accepted a message of the wrong type")
	}
}

func TestClosedPeerReadsEOF(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	defer b.Close()
	if _, _, err := b.Recv(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after peer close: %v, want EOF", err)
	}
}

// TestPeerClosedWithMessagesUnreadStillDelivers: a peer that sends its
// last message and closes while one of ours is still unread in its queue
// (a guestproc that exits with a SIGCHLD unread) is read in full: that
// last message, then EOF, on the blocking descriptor and on the poller.
func TestPeerClosedWithMessagesUnreadStillDelivers(t *testing.T) {
	for _, poller := range []bool{false, true} {
		a, b, err := Socketpair()
		if err != nil {
			t.Fatal(err)
		}
		if poller {
			if err := a.UsePoller(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Send(MsgStarted, struct{}{}); err != nil { // never read
			t.Fatal(err)
		}
		if err := b.Send(MsgExited, Exited{Status: 4 << 8}); err != nil {
			t.Fatal(err)
		}
		b.Close()
		var e Exited
		if _, err := a.Expect(MsgExited, &e); err != nil || e.Status != 4<<8 {
			t.Errorf("poller %v: the peer's last message: %+v, %v; want status 0x400", poller, e, err)
		}
		if _, _, err := a.Recv(nil); !errors.Is(err, io.EOF) {
			t.Errorf("poller %v: after the last message: %v, want EOF", poller, err)
		}
		a.Close()
	}
}

// TestDescriptorsInChunks sends 300 descriptors (more than two chunks) and
// checks each arrives as a working duplicate of the original, in order.
func TestDescriptorsInChunks(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	dir := t.TempDir()
	var sent []int
	for i := 0; i < 300; i++ {
		f, err := os.CreateTemp(dir, "fd")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(string(rune('A' + i%26))); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, fd)
	}
	defer closeAll(sent)
	errc := make(chan error, 1)
	go func() { errc <- a.SendFDs(sent) }()
	got, err := b.RecvFDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	defer closeAll(got)
	if len(got) != len(sent) {
		t.Fatalf("received %d descriptors, sent %d", len(got), len(sent))
	}
	buf := make([]byte, 1)
	for i, fd := range got {
		if _, err := unix.Pread(fd, buf, 0); err != nil {
			t.Fatalf("descriptor %d: %v", i, err)
		}
		if want := byte('A' + i%26); buf[0] != want {
			t.Fatalf("descriptor %d reads %q, want %q", i, buf[0], want)
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Fatalf("descriptor %d not close-on-exec (flags %#x, err %v)", i, flags, err)
		}
	}
}

func TestTooManyDescriptorsInOneMessage(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	fds := make([]int, MaxFDsPerMessage+1)
	if err := a.Send(MsgFDChunk, fdChunk{}, fds...); err == nil {
		t.Fatal("Send accepted more than MaxFDsPerMessage descriptors")
	}
}

// TestForkReplyCarriesTheForkSocket checks the shape of a fork round trip:
// a Request, then a Reply with the same ID and one working socket end.
func TestForkReplyCarriesTheForkSocket(t *testing.T) {
	sup, gp, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	defer gp.Close()
	if err := gp.Send(MsgRequest, Request{ID: 7, Op: OpFork, ExitSignal: 17}); err != nil {
		t.Fatal(err)
	}
	var req Request
	if _, err := sup.Expect(MsgRequest, &req); err != nil {
		t.Fatal(err)
	}
	if req.ID != 7 || req.Op != OpFork || req.ExitSignal != 17 {
		t.Fatalf("request %+v", req)
	}
	parentEnd, childEnd, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer childEnd.Close()
	if err := sup.Send(MsgReply, Reply{ID: req.ID, Pid: 2}, parentEnd.FD()); err != nil {
		t.Fatal(err)
	}
	parentEnd.Close()
	var rep Reply
	fds, err := gp.Expect(MsgReply, &rep)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != 7 || rep.Pid != 2 || len(fds) != 1 {
		t.Fatalf("reply %+v with %d descriptors", rep, len(fds))
	}
	fork := NewConn(fds[0])
	defer fork.Close()
	if err := fork.Send(MsgForkReady, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := childEnd.Expect(MsgForkReady, nil); err != nil {
		t.Fatalf("the passed socket does not reach the child's end: %v", err)
	}
}

// Closing a Conn twice closes its descriptor once: the second Close must
// not close whatever file reused the number.
func TestCloseTwiceClosesOnce(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fd := a.FD()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, q := range p {
		if _, err := unix.FcntlInt(uintptr(q), unix.F_GETFD, 0); err != nil {
			t.Fatalf("descriptor %d (the Conn had %d) closed by a second Close: %v", q, fd, err)
		}
	}
}

// SendWithFDs attaches a set that fits to the message itself and sends a
// larger one in chunks after it; either way the receiver gets them all in
// order.
func TestSendWithFDs(t *testing.T) {
	for _, n := range []int{1, MaxFDsPerMessage, MaxFDsPerMessage + 1, 300} {
		a, b, err := Socketpair()
		if err != nil {
			t.Fatal(err)
		}
		var sent []int
		for i := 0; i < n; i++ {
			fd, err := unix.MemfdCreate("x", unix.MFD_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			unix.Pwrite(fd, []byte{byte(i)}, 0)
			sent = append(sent, fd)
		}
		errc := make(chan error, 1)
		go func() { errc <- a.SendWithFDs(MsgForkReady, Reparent{Ppid: int32(n)}, sent) }()
		var r Reparent
		got, err := b.Expect(MsgForkReady, &r)
		if err != nil || r.Ppid != int32(n) {
			t.Fatalf("%d descriptors: message %+v, %v", n, r, err)
		}
		if inline := n <= MaxFDsPerMessage; inline != (len(got) > 0) {
			t.Fatalf("%d descriptors: %d came with the message", n, len(got))
		}
		if len(got) == 0 {
			if got, err = b.RecvFDs(); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("received %d descriptors, sent %d", len(got), n)
		}
		buf := make([]byte, 1)
		for i, fd := range got {
			if _, err := unix.Pread(fd, buf, 0); err != nil || buf[0] != byte(i) {
				t.Fatalf("%d descriptors: descriptor %d reads %v (%v)", n, i, buf, err)
			}
		}
		closeAll(sent)
		closeAll(got)
		a.Close()
		b.Close()
	}
}
