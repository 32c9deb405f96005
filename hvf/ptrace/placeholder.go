// Package ptrace is a software hvf backend (placeholder until the ptrace branch lands).
package ptrace

import (
	"fmt"

	"github.com/elfuse/elfuse/hvf"
	"github.com/hashicorp/go-hclog"
)

// New returns the ptrace backend.
func New(log hclog.Logger) (hvf.Backend, error) {
	return nil, fmt.Errorf("ptrace backend not built yet: %w", hvf.ErrUnavailable)
}
