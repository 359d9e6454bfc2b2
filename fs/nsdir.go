package fs

import (
	"context"
	"slices"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// nsNode is MOUNT/<ns>/: ctl, the id tables, sysvipc/ and limits/ of one
// namespace, which never change while it lives.
type nsNode struct {
	gofs.Inode
	m  *mountState
	t  *tenancy
	ns *nsmodel.Namespace
}

var (
	_ = (gofs.NodeOnAdder)((*nsNode)(nil))
	_ = (gofs.NodeGetattrer)((*nsNode)(nil))
	_ = (gofs.NodeLookuper)((*nsNode)(nil))
	_ = (gofs.NodeUnlinker)((*nsNode)(nil))
	_ = (gofs.NodeRmdirer)((*nsNode)(nil))
)

func nsDirAttr(a *fuse.Attr) { fixedAttr(a, syscall.S_IFDIR|0o755) }

func (n *nsNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	nsDirAttr(&out.Attr)
	n.t.fixedAttrs(out)
	return 0
}

func (n *nsNode) OnAdd(ctx context.Context) {
	dir := func(name string, node gofs.InodeEmbedder) *gofs.Inode {
		ch := n.NewPersistentInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFDIR})
		n.AddChild(name, ch, false)
		return ch
	}
	n.AddChild(ctlName, n.NewPersistentInode(ctx, newNSCtl(n.t, n.ns), gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	dir("shm", &shmDirNode{m: n.m, ns: n.ns})
	dir("msg", newMsgDir(n.m, n.ns))
	dir("sem", newSemDir(n.m, n.ns))

	sysv := dir("sysvipc", &staticDir{t: n.t})
	for name, render := range map[string]func() string{
		"shm": func() string { n.m.settle(); return n.ns.Shm.SysvipcShm() },
		"msg": n.ns.Msg.SysvipcMsg,
		"sem": n.ns.Sem.SysvipcSem,
	} {
		sysv.AddChild(name, sysv.NewPersistentInode(ctx, &textNode{render: render}, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	}

	lim := dir("limits", &staticDir{t: n.t})
	for _, name := range slices.Concat(nsmodel.LimitNames, nsmodel.ControlNames) {
		lim.AddChild(name, lim.NewPersistentInode(ctx, &quotaNode{limitNode: limitNode{ns: n.ns, name: name}}, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	}
}

func (n *nsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return lookupFixed(ctx, n.t, &n.Inode, name, out)
}

// Unlink and Rmdir refuse: the children live as long as the namespace.
// (go-fuse would otherwise drop the child and report success.)
func (n *nsNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
func (n *nsNode) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EPERM }

// lookupFixed finds a child that was made with its directory, and lets
// the kernel keep the entry (without isolation).
func lookupFixed(ctx context.Context, t *tenancy, dir *gofs.Inode, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ch := dir.GetChild(name)
	if ch == nil {
		return nil, syscall.ENOENT
	}
	if ga, ok := ch.Operations().(gofs.NodeGetattrer); ok {
		var a fuse.AttrOut
		if e := ga.Getattr(ctx, nil, &a); e != 0 {
			return nil, e
		}
		out.Attr = a.Attr
		out.SetAttrTimeout(a.Timeout())
	}
	t.fixedEntry(out)
	return ch, 0
}

// staticDir is a directory whose children are fixed when it is made.
type staticDir struct {
	gofs.Inode
	t *tenancy
}

var (
	_ = (gofs.NodeGetattrer)((*staticDir)(nil))
	_ = (gofs.NodeLookuper)((*staticDir)(nil))
	_ = (gofs.NodeUnlinker)((*staticDir)(nil))
)

func (d *staticDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	nsDirAttr(&out.Attr)
	d.t.fixedAttrs(out)
	return 0
}

func (d *staticDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return lookupFixed(ctx, d.t, &d.Inode, name, out)
}

// Unlink refuses, as unlink of a /proc/sys or /proc/sysvipc file is
// refused.
func (d *staticDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
