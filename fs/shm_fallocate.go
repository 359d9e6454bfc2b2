package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

var _ = (gofs.FileAllocater)((*segHandle)(nil))

// Allocate is fallocate(2) on a segment (mode 0, KEEP_SIZE, PUNCH_HOLE,
// ZERO_RANGE): it reaches the memfd within shmmax and shmall, as a write
// does. The kernel sends it to the server under passthrough too.
func (h *segHandle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	if err := h.t.Allocate(h.s, mode, off, size); err != nil {
		return errno(err)
	}
	return 0
}
