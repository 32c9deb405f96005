package ipc

import (
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPollerRoundTrip sends a message with a descriptor between two Conns
// on the poller, with the reader waiting before the message is sent.
func TestPollerRoundTrip(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	for _, c := range []*Conn{a, b} {
		if err := c.UsePoller(); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		start Start
		fds   []int
		err   error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		r.fds, r.err = b.Expect(MsgStart, &r.start)
		got <- r
	}()
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := a.Send(MsgStart, Start{Pid: 7}, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.start.Pid != 7 || len(r.fds) != 1 {
		t.Fatalf("Expect: %+v, %v, %v", r.start, r.fds, r.err)
	}
	defer unix.Close(r.fds[0])
	var s1, s2 unix.Stat_t
	unix.Fstat(int(f.Fd()), &s1)
	unix.Fstat(r.fds[0], &s2)
	if s1.Ino != s2.Ino || s1.Dev != s2.Dev {
		t.Fatal("received descriptor is not the file sent")
	}
}

// parkedReader returns b, on the poller, with a goroutine receiving from
// it, and the channel its Recv's error arrives on.
func parkedReader(t *testing.T, b *Conn) <-chan error {
	t.Helper()
	if err := b.UsePoller(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := b.Recv(nil)
		done <- err
	}()
	return done
}

// TestPollerPeerCloseIsEOF: a reader parked on the poller sees EOF when
// the peer goes, as a blocking one does.
func TestPollerPeerCloseIsEOF(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := parkedReader(t, b)
	a.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after peer close: %v, want EOF", err)
	}
}

// TestPollerCloseWakesReader: closing a Conn on the poller wakes its own
// parked reader with an error (a blocking recvmsg would sleep on).
func TestPollerCloseWakesReader(t *testing.T) {
	a, b, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := parkedReader(t, b)
	b.Close()
	if err := <-done; err == nil {
		t.Fatal("Recv on a closed Conn returned no error")
	}
}
