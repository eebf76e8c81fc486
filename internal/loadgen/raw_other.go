//go:build !linux

package loadgen

import (
	"context"
	"errors"
)

// defaultEngine is the pkg/rpc engine where the raw one does not exist.
const defaultEngine = EngineRPC

// runRaw is Linux only.
func runRaw(context.Context, *target) (*Result, error) {
	return nil, errors.New("loadgen: the raw engine needs Linux (use the rpc engine)")
}
