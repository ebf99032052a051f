//go:build !linux

package chaos

import (
	"context"
	"errors"
)

// Run needs Linux network namespaces.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	return nil, errors.New("the chaos run needs Linux (network namespaces)")
}
