package hvf

// PLACEHOLDER until the kvm branch lands; deleted at merge.

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
)

// NewKVM opens /dev/kvm.
func NewKVM(log hclog.Logger) (Backend, error) {
	return nil, fmt.Errorf("kvm backend not built yet: %w", ErrUnavailable)
}
