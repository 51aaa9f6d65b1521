//go:build !unix

package keys

import (
	"context"
	"errors"
)

func lockFile(ctx context.Context, path string) (func(), error) {
	return nil, errors.New("keys: the file store needs flock(2), available on unix systems only")
}
