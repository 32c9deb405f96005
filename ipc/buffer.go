package ipc

import (
	"sync"

	"golang.org/x/sys/unix"
)

// oobSize is the control-message space for MaxFDsPerMessage descriptors.
var oobSize = unix.CmsgSpace(MaxFDsPerMessage * 4)

// smallBuffer is the size of pooled receive buffers: every message but a
// large fork image or description fits.
const smallBuffer = 64 << 10

var buffers = sync.Pool{New: func() any {
	b := make([]byte, smallBuffer)
	return &b
}}

// getBuffer returns a buffer of at least n bytes, pooled when small.
func getBuffer(n int) *[]byte {
	if n > smallBuffer {
		b := make([]byte, n)
		return &b
	}
	bp := buffers.Get().(*[]byte)
	*bp = (*bp)[:n]
	return bp
}

// putBuffer gives a buffer from getBuffer back.
func putBuffer(bp *[]byte) {
	if cap(*bp) != smallBuffer {
		return
	}
	*bp = (*bp)[:smallBuffer]
	buffers.Put(bp)
}

// peekSize waits for the next message and returns its length without
// receiving it: recv(MSG_PEEK|MSG_TRUNC) reports the full length of a
// SOCK_SEQPACKET record (0 when the peer closed).
func (c *Conn) peekSize() (int, error) {
	var b [1]byte
	var n int
	err := c.reading(func(fd int) (err error) {
		n, _, err = unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_TRUNC)
		return err
	})
	return n, err
}
