package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// Sockets: every mode of testdata/sockets.c runs natively and under elfuse
// in one process (there is no fork yet): socketpair round trips, a unix
// stream server and client with a non-blocking connect, poll and accept, a
// TCP echo on 127.0.0.1 with an ephemeral port, SCM_RIGHTS carrying pipe
// descriptors, address families from getsockname and getpeername, the
// multi-message calls, and blocking calls cut short by a signal.
func TestProgramSockets(t *testing.T) {
	for _, mode := range []string{"socketpair", "unix_stream", "tcp_echo", "scm_rights", "names", "mmsg", "interrupt", "sigpipe"} {
		t.Run(mode, func(t *testing.T) {
			runProgram(t, progCase{name: "sockets_" + mode, src: "sockets.c", args: []string{mode}})
		})
	}
}

// TestProgramPeerCred: testdata/peercred.c compares the pids SO_PEERCRED
// and SCM_CREDENTIALS report between a parent and its fork child with
// getpid() and getppid(); under elfuse they must be guest pids.
func TestProgramPeerCred(t *testing.T) {
	runProgram(t, progCase{name: "peercred", src: "peercred.c"})
}

// hostPython is the distribution's python3: a large dynamic program whose
// socket module wraps every socket call.
const hostPython = "/usr/bin/python3"

// pythonSocketScript uses the socket module the way programs do: a
// socketpair, a TCP round trip on loopback, descriptors passed with
// send_fds/recv_fds, a unix socket bound to a relative path, and
// socket-level options.
const pythonSocketScript = `
import os, socket
a, b = socket.socketpair()
a.sendall(b"over the pair")
print(b.recv(64), a.family == socket.AF_UNIX, a.type == socket.SOCK_STREAM)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen()
host, port = srv.getsockname()
c = socket.create_connection((host, port), timeout=5)
s, peer = srv.accept()
print("accepted from", peer[0], "port matches", peer[1] == c.getsockname()[1])
c.sendall(b"ping")
s.sendall(s.recv(16).upper())
print(c.recv(16))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("nodelay", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0)
r, w = os.pipe()
os.write(w, b"through a passed pipe")
socket.send_fds(a, [b"m"], [r])
msg, fds, flags, addr = socket.recv_fds(b, 16, 4)
print(msg, len(fds), os.read(fds[0], 64))
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.bind("py.sock")
print("unix name", u.getsockname())
v = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
v.sendto(b"dgram", "py.sock")
print(u.recvfrom(16))
os.unlink("py.sock")
srv.close()
try:
    socket.create_connection(("127.0.0.1", port), timeout=5)
except ConnectionRefusedError:
    print("refused once the listener is closed")
`

func TestPythonSockets(t *testing.T) {
	if _, why := testutil.LookCommand(hostPython); why != "" {
		t.Skip(why)
	}
	testutil.RunCase(t, elfuse, testutil.Case{
		Name: "python_sockets",
		Args: []string{hostPython, "-I", "-c", pythonSocketScript},
	})
}
