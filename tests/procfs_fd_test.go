package tests

import (
	"testing"

	"github.com/elfuse/elfuse/tests/testutil"
)

// Descriptor links of /proc/<pid>/fd that name no path: a pipe, a socket
// or an anonymous inode of another process, opened through its link, and
// signalfd descriptors as /proc shows them. Native runs are in a pid
// namespace of their own (procfs_pid_test.go).

// peerFdScript opens a fork child's pipe, socket and eventfd through
// /proc/<child>/fd/N: the pipe reads what the parent wrote into it (a
// new open of the same pipe), the socket and the eventfd cannot be opened
// (ENXIO). A number the child closed is ENOENT, and so is a path below a pipe's
// link (ENOTDIR). fstat through the link sees the pipe.
const peerFdScript = `
import errno, os, signal, socket, stat
r, w = os.pipe()
a, b = socket.socketpair()
e = os.eventfd(5)
ack_r, ack_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.close(ack_r)
    os.write(ack_w, b"x")
    signal.pause()
    os._exit(0)
os.close(ack_w)
os.read(ack_r, 1)
link = lambda fd: "/proc/%d/fd/%d" % (pid, fd)
def tryopen(path, flags=os.O_RDONLY):
    try:
        x = os.open(path, flags)
    except OSError as ex:
        return errno.errorcode[ex.errno]
    try:
        return os.read(x, 100)
    except OSError as ex:
        return "read " + errno.errorcode[ex.errno]
    finally:
        os.close(x)
os.write(w, b"through proc\n")
print("link", os.readlink(link(r))[:6], os.readlink(link(a.fileno()))[:8])
print("fstat is a fifo", stat.S_ISFIFO(os.stat(link(r)).st_mode), "lstat is a link", stat.S_ISLNK(os.lstat(link(r)).st_mode))
print("pipe", tryopen(link(r)))
os.write(w, b"second\n")
print("pipe nonblocking", tryopen(link(r), os.O_RDONLY | os.O_NONBLOCK))
print("socket", tryopen(link(a.fileno())))
print("eventfd", tryopen(link(e), os.O_RDWR))
print("below pipe", tryopen(link(r) + "/x"))
print("closed", tryopen(link(w)))
os.close(w)
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
`

// TestProcFSPeerFdLinks opens another process's pipe, socket and eventfd
// through its /proc links, natively and under elfuse.
func TestProcFSPeerFdLinks(t *testing.T) {
	runPythonNamespaceCase(t, "peer_fd_links", peerFdScript)
}

// TestProcFSPipeOfSibling reads a pipe through the fd link of the
// process that reads it, from a shell: the data the writer left in the
// pipe comes out, then the end of the file (the writer is gone).
func TestProcFSPipeOfSibling(t *testing.T) {
	requireBusybox(t)
	script := `echo through-proc | sleep 5 & p=$!
` + waitSleeping + `until [ -n "$(readlink /proc/$p/fd/0)" ]; do :; done
readlink /proc/$p/fd/0 | cut -c1-5; ls -l /proc/$p/fd | grep -o ' 0 -> pipe'
cat /proc/$p/fd/0; cat < /proc/$p/fd/0; echo second read done
kill $p; wait`
	runNamespaceCase(t, testutil.Case{Name: "pipe_of_sibling", Args: bb("sh", "-c", script)})
}

// TestProcFSSignalfdLinks checks a signalfd's link (anon_inode:[signalfd])
// and fdinfo (sigmask) through the own and another process's /proc.
func TestProcFSSignalfdLinks(t *testing.T) {
	runProgram(t, progCase{src: "procfs_signalfd.c"})
}
