package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// limitNode is limits/<name>: /proc/sys/kernel/<name> of the namespace.
// Everyone may read it; only root may open it for writing, as
// ipc_permissions lets only the namespace's root uid write (EACCES for
// others), and a *_next_id file only the capable
// (Namespace.MayWriteLimit); the model then checks each write.
type limitNode struct {
	gofs.Inode
	ns   *nsmodel.Namespace
	name string
}

var (
	_ = (gofs.NodeOpener)((*limitNode)(nil))
	_ = (gofs.NodeGetattrer)((*limitNode)(nil))
	_ = (gofs.NodeSetattrer)((*limitNode)(nil))
)

func (n *limitNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFREG|nsmodel.LimitMode(n.name))
	out.SetTimeout(fixedTimeout)
	return 0
}

// Setattr accepts the truncation that `echo N > limits/x` sends before
// its write, from whoever may write the limit, and refuses the rest as
// /proc/sys does (fixedSetattr).
func (n *limitNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	c := callerCred(ctx)
	if e := fixedSetattrW(c, in, 0o644, false, n.ns.MayWriteLimits(c)); e != 0 {
		return e
	}
	return n.Getattr(ctx, f, out)
}

func (n *limitNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY && !n.ns.MayWriteLimit(callerCred(ctx), n.name) {
		return nil, 0, syscall.EACCES
	}
	text, err := n.ns.FormatLimit(n.name)
	if err != nil {
		return nil, 0, errno(err)
	}
	return &limitHandle{textHandle: textHandle{text: []byte(text)}, node: n}, textOpenFlags, 0
}

type limitHandle struct {
	textHandle
	node *limitNode
}

var _ = (gofs.FileWriter)((*limitHandle)(nil))

// Write sets the limit. A write that does not start at offset 0 is
// taken and ignored, as proc_first_pos_non_zero_ignore does under
// sysctl_writes_strict: it is the tail of one the kernel cut short, or
// a second write(2) on the descriptor.
func (h *limitHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off != 0 {
		if !h.node.ns.MayWriteLimit(callerCred(ctx), h.node.name) {
			return 0, syscall.EACCES
		}
		return uint32(len(data)), 0
	}
	var m *mountState
	if r, ok := h.node.Root().Operations().(*rootNode); ok {
		m = r.m
	}
	if err := m.setLimit(h.node.ns, callerCred(ctx), h.node.name, string(data)); err != nil {
		// The handle reads back why, from offset 0.
		err = because(err, limitReason(h.node.name, data))
		logRefusal("limits/"+h.node.name, data, err)
		h.text = []byte(reasonLine(err))
		return 0, errno(err)
	}
	if h.node.name == "shmmni" && m != nil {
		// More segments may need more descriptors than the server has.
		m.checkNofile()
	}
	return uint32(len(data)), 0
}
