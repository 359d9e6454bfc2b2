package fs

import (
	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/shmfs/shmfs/nsmodel"
)

// newMsgDir makes MOUNT/<ns>/msg/, the message queue table; it is empty
// until queues are served.
func newMsgDir(m *mountState, ns *nsmodel.Namespace) gofs.InodeEmbedder {
	return &staticDir{}
}
