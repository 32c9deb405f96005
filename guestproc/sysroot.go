package guestproc

import (
	"fmt"
	"os"

	"github.com/elfuse/elfuse/ipc"
	"github.com/elfuse/elfuse/kernel"
	"github.com/elfuse/elfuse/kernel/abi"
)

// setupFS applies Start's file-system settings before the program is
// loaded: it opens the sysroot and binds (nil Root when there are none),
// moves to the working directory and finds the program. It returns the
// root and the program path to hand to StartProcess (a guest path under a
// root). Errors wrap an abi.Errno for ExecFailed.
func setupFS(start *ipc.Start) (*kernel.Root, string, error) {
	if start.Sysroot == "" && len(start.Binds) == 0 {
		if start.Workdir != "" && !start.Fork {
			if err := os.Chdir(start.Workdir); err != nil {
				return nil, "", fmt.Errorf("--workdir %s: %v: %w", start.Workdir, err, abi.ENOENT)
			}
		}
		return nil, start.Path, nil
	}
	binds := make([]kernel.BindMount, len(start.Binds))
	for i, b := range start.Binds {
		binds[i] = kernel.BindMount{Host: b.Host, Guest: b.Guest, ReadOnly: b.ReadOnly}
	}
	root, err := kernel.NewRoot(start.Sysroot, binds)
	if err != nil {
		return nil, "", fmt.Errorf("%v: %w", err, abi.EINVAL)
	}
	// The working directory must be inside the guest's file system:
	// --workdir, else "/" under a sysroot (the host's cwd means nothing
	// there); binds alone keep the host's.
	if start.Fork {
		// A fork child's cwd arrives with the fork image, and it runs
		// the image it is given: nothing to look up.
		return root, "", nil
	}
	wd := start.Workdir
	if wd == "" && start.Sysroot != "" {
		wd = "/"
	}
	if wd != "" {
		if err := root.Chdir(wd); err != nil {
			root.Close()
			return nil, "", fmt.Errorf("--workdir %s: %v: %w", wd, err, abi.ENOENT)
		}
	}
	path, err := root.LookPath(start.Path, start.Envp)
	if err != nil {
		root.Close()
		return nil, "", err
	}
	return root, path, nil
}
