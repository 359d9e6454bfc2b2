package fs

import (
	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/shmfs/shmfs/nsmodel"
)

// newSemDir makes MOUNT/<ns>/sem/, the semaphore set table; it is empty
// until sets are served.
func newSemDir(m *mountState, ns *nsmodel.Namespace) gofs.InodeEmbedder {
	return &staticDir{}
}
