package kernel

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Root is the guest's view of the file system under --sysroot: a host
// directory that is the guest's "/", plus a bind table consulted first.
//
// Containment is the host kernel's: every lookup is one openat2(2) with
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS under the root's (or a bind's)
// descriptor, so `..` at the root, absolute and relative symlinks and
// /proc magic links cannot leave it. Calls that act on a final component
// without following it resolve its parent that way and then act on the
// name with a *at call. No string rewriting decides containment; the
// bind table only chooses which descriptor a lookup starts from.
//
// The guest's working directory is the guestproc's own host working
// directory (always inside the root or a bind); its guest path is derived
// from the host path when needed, so fork and exec inherit it for free and
// renames of its ancestors are seen.
//
// A Root is immutable after NewRoot and safe for concurrent use.
type Root struct {
	// dir is the canonical host path of the root directory.
	dir string
	// fd is an O_PATH descriptor of dir.
	fd     int
	mounts *mountTable
}

// NewRoot opens dir as the guest's root with the given binds. An empty dir
// means the host's "/" (useful with binds only).
func NewRoot(dir string, binds []BindMount) (*Root, error) {
	if dir == "" {
		dir = "/"
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("sysroot %s: %w", dir, err)
	}
	fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sysroot %s: %w", dir, err)
	}
	// openat2 exists since Linux 5.6; say so once here rather than
	// failing every lookup later.
	probe, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sysroot %s: openat2(RESOLVE_IN_ROOT) unavailable: %w", dir, err)
	}
	unix.Close(probe)
	mt, err := newMountTable(binds)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Root{dir: abs, fd: fd, mounts: mt}, nil
}

// Close releases the root's descriptors.
func (r *Root) Close() error {
	r.mounts.close()
	return unix.Close(r.fd)
}

// Dir is the canonical host path of the root.
func (r *Root) Dir() string { return r.dir }

// GuestPath maps a canonical absolute host path to the path the guest
// sees it at; ok is false for host paths outside the root and the binds.
func (r *Root) GuestPath(host string) (guest string, ok bool) {
	if g, ok := r.mounts.guestOf(host); ok {
		return g, true
	}
	if !pathWithin(host, r.dir) {
		return "", false
	}
	if r.dir == "/" {
		return host, true
	}
	rest := strings.TrimPrefix(host, r.dir)
	if rest == "" {
		return "/", true
	}
	return rest, true
}

// Cwd returns the guest path of the working directory, "(unreachable)"
// prefixed (as Linux's getcwd does) when it lies outside the root.
func (r *Root) Cwd() (string, error) {
	host, err := unix.Getwd()
	if err != nil {
		return "", err
	}
	if g, ok := r.GuestPath(host); ok {
		return g, nil
	}
	return "(unreachable)" + host, nil
}

// guestOfFD returns the guest path of the directory open as host fd.
func (r *Root) guestOfFD(fd int) (string, bool) {
	host, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(host, "/") || strings.HasSuffix(host, " (deleted)") {
		return "", false
	}
	return r.GuestPath(host)
}

// absolute makes a guest path absolute against the working directory.
func (r *Root) absolute(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	cwd, err := r.Cwd()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(cwd, "/") {
		return "", abi.ENOENT
	}
	return joinGuest(cwd, p), nil
}

// joinGuest appends a relative guest path to a directory without cleaning
// it: `..` and symlinks are the kernel's to resolve.
func joinGuest(dir, rel string) string {
	if rel == "" {
		return dir
	}
	if strings.HasSuffix(dir, "/") {
		return dir + rel
	}
	return dir + "/" + rel
}

// locate chooses where a lookup of the absolute guest path p starts: the
// bind holding it (with the rest of the path inside the bind) or the root.
func (r *Root) locate(p string) (base int, rest string, m *mount) {
	if len(r.mounts.mounts) == 0 {
		return r.fd, p, nil
	}
	c := path.Clean(p)
	if m, rest := r.mounts.match(c); m != nil {
		if strings.HasSuffix(p, "/") && rest != "." {
			rest += "/"
		}
		return m.fd, rest, m
	}
	// The raw path may pass through a bind and climb out of it with
	// `..`: only the lexical form says where it lands.
	for _, m := range r.mounts.mounts {
		if strings.HasPrefix(p, m.guest+"/") {
			return r.fd, c, nil
		}
	}
	return r.fd, p, nil
}

// isMountPoint reports whether the absolute guest path p names a bind.
func (r *Root) isMountPoint(p string) bool {
	if len(r.mounts.mounts) == 0 {
		return false
	}
	m, rest := r.mounts.match(path.Clean(p))
	return m != nil && rest == "."
}

// maxOpenat2Retries bounds the retries of an openat2 that a concurrent
// rename made return EAGAIN.
const maxOpenat2Retries = 16

// openat2In opens rest under base, contained in base.
func openat2In(base int, rest string, how unix.OpenHow) (int, error) {
	how.Resolve |= unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	how.Flags |= unix.O_CLOEXEC
	for i := 0; ; i++ {
		fd, err := unix.Openat2(base, rest, &how)
		if (err == unix.EAGAIN && i < maxOpenat2Retries) || err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// open opens the absolute guest path p with how; write says the call
// modifies the file system (EROFS in a read-only bind).
func (r *Root) open(p string, how unix.OpenHow, write bool) (int, error) {
	if len(r.mounts.mounts) == 0 {
		return openat2In(r.fd, p, how)
	}
	if walkFast(p) {
		base, rest, m := r.locate(p)
		if m != nil && m.ro && write {
			return -1, abi.EROFS
		}
		if m.fileBind(rest) {
			return m.reopen(how)
		}
		h := how
		h.Resolve |= unix.RESOLVE_NO_SYMLINKS
		fd, err := openat2In(base, rest, h)
		if !fallBack(err) {
			return fd, err
		}
	}
	return r.walkOpen(p, how, write)
}

// OpenFile opens a guest path for reading, contained in the root; a
// relative path starts at the working directory.
func (r *Root) OpenFile(p string) (*os.File, error) {
	abs, err := r.absolute(p)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	fd, err := r.open(abs, unix.OpenHow{Flags: unix.O_RDONLY}, false)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// Opener returns the Opener exec uses: guest paths under the root.
func (r *Root) Opener() Opener { return r.OpenFile }

// Chdir makes the guest path p the working directory.
func (r *Root) Chdir(p string) error {
	abs, err := r.absolute(p)
	if err != nil {
		return err
	}
	fd, err := r.open(abs, unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY}, false)
	if err != nil {
		return fmt.Errorf("chdir %s: %w", p, err)
	}
	defer unix.Close(fd)
	return unix.Fchdir(fd)
}

// LookPath finds a program the way execvp does, in the guest's file
// system: a name with a slash is used as is, others are searched in the
// PATH of env. It returns the guest path.
func (r *Root) LookPath(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	pathVar := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		p := joinGuest(dir, prog)
		abs, err := r.absolute(p)
		if err != nil {
			continue
		}
		fd, err := r.open(abs, unix.OpenHow{Flags: unix.O_PATH}, false)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found: %w", prog, abi.ENOENT)
}

// Opener returns how the kernel opens executables: under the root when
// there is one, else the host's file system.
func (k *Kernel) Opener() Opener {
	if k.Root != nil {
		return k.Root.Opener()
	}
	return os.Open
}

// checkDeviceNode refuses to make device nodes under a sysroot (EPERM, as
// without CAP_MKNOD): a guest running as host root could otherwise make a
// node for the host's disk and read around the root.
func (t *Task) checkDeviceNode(mode uint32) error {
	if t.root() == nil {
		return nil
	}
	switch mode & unix.S_IFMT {
	case unix.S_IFBLK, unix.S_IFCHR:
		return abi.EPERM
	}
	return nil
}
