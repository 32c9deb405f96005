package supervisor

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/elfuse/elfuse/ipc"
)

// ParseBind parses a --bind argument, HOST[:GUEST][:ro] (":rw" is accepted
// too); GUEST defaults to HOST and must be absolute. HOST must exist.
func ParseBind(s string) (ipc.Bind, error) {
	parts := strings.Split(s, ":")
	var b ipc.Bind
	if n := len(parts); n > 1 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		b.ReadOnly = parts[n-1] == "ro"
		parts = parts[:n-1]
	}
	switch len(parts) {
	case 1:
		b.Host, b.Guest = parts[0], parts[0]
	case 2:
		b.Host, b.Guest = parts[0], parts[1]
	default:
		return ipc.Bind{}, fmt.Errorf("--bind %q: want HOST[:GUEST][:ro]", s)
	}
	if b.Host == "" || b.Guest == "" {
		return ipc.Bind{}, fmt.Errorf("--bind %q: empty path", s)
	}
	if !path.IsAbs(b.Guest) {
		return ipc.Bind{}, fmt.Errorf("--bind %q: guest path %s is not absolute", s, b.Guest)
	}
	if _, err := os.Stat(b.Host); err != nil {
		return ipc.Bind{}, fmt.Errorf("--bind %q: %w", s, err)
	}
	b.Guest = path.Clean(b.Guest)
	return b, nil
}

// CheckSysroot reports whether dir can be a --sysroot: an existing
// directory.
func CheckSysroot(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--sysroot: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--sysroot %s: not a directory", dir)
	}
	return nil
}

// contained reports whether the guest has its own root (--sysroot or
// --bind): the program is then looked up by the guestproc, in the guest's
// file system.
func (cfg *Config) contained() bool {
	return cfg.Sysroot != "" || len(cfg.Binds) > 0
}
