package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// nsNode is MOUNT/<ns>/: the id tables, sysvipc/ and limits/ of one
// namespace, which never change while it lives.
type nsNode struct {
	gofs.Inode
	m  *mountState
	ns *nsmodel.Namespace
}

var (
	_ = (gofs.NodeOnAdder)((*nsNode)(nil))
	_ = (gofs.NodeGetattrer)((*nsNode)(nil))
)

func nsDirAttr(a *fuse.Attr) { fixedAttr(a, syscall.S_IFDIR|0o755) }

func (n *nsNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	nsDirAttr(&out.Attr)
	return 0
}

func (n *nsNode) OnAdd(ctx context.Context) {
	dir := func(name string, node gofs.InodeEmbedder) *gofs.Inode {
		ch := n.NewPersistentInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFDIR})
		n.AddChild(name, ch, false)
		return ch
	}
	dir("shm", &shmDirNode{m: n.m, ns: n.ns})
	dir("msg", newMsgDir(n.m, n.ns))
	dir("sem", newSemDir(n.m, n.ns))

	sysv := dir("sysvipc", &staticDir{})
	for name, render := range map[string]func() string{
		"shm": func() string { n.m.settle(); return n.ns.Shm.SysvipcShm() },
		"msg": n.ns.Msg.SysvipcMsg,
		"sem": n.ns.Sem.SysvipcSem,
	} {
		sysv.AddChild(name, sysv.NewPersistentInode(ctx, &textNode{render: render}, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	}

	lim := dir("limits", &staticDir{})
	for _, name := range nsmodel.LimitNames {
		lim.AddChild(name, lim.NewPersistentInode(ctx, &limitNode{ns: n.ns, name: name}, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	}
}

// staticDir is a directory whose children are fixed when it is made.
type staticDir struct{ gofs.Inode }

var _ = (gofs.NodeGetattrer)((*staticDir)(nil))

func (d *staticDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	nsDirAttr(&out.Attr)
	return 0
}
