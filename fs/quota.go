package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// quotaNode is limits/<name> where limits can be quotas: a tenant's
// namespace, or any namespace of an isolating mount, takes its limits
// from an administrator only. The open for writing is refused with the
// EACCES that a write would get, so `echo N > limits/x` fails at once
// and a tenant's root cannot raise its own quota.
type quotaNode struct {
	limitNode
}

var _ = (gofs.NodeOpener)((*quotaNode)(nil))

func (n *quotaNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY && !n.ns.MayWriteLimit(callerCred(ctx), n.name) {
		return nil, 0, syscall.EACCES
	}
	return n.limitNode.Open(ctx, flags)
}
