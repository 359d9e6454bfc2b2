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
//
// Its children are made at their lookup, with the identity of their slot
// (ident.go), and are not persistent: the node of a namespace and every
// node below it go when the kernel forgets them, so neither a walk nor a
// namespace made and removed leaves anything behind. A second lookup
// while the kernel holds the node finds that node (go-fuse matches the
// identity), and the one made for it is dropped unused: so making a node
// has no effect beyond the node itself.
type nsNode struct {
	fixedDir
	m  *mountState
	ns *nsmodel.Namespace
}

var (
	_ = (gofs.NodeUnlinker)((*nsNode)(nil))
	_ = (gofs.NodeRmdirer)((*nsNode)(nil))
)

func nsDirAttr(a *fuse.Attr) { fixedAttr(a, syscall.S_IFDIR|0o755) }

func newNSNode(m *mountState, t *tenancy, ns *nsmodel.Namespace) *nsNode {
	n := &nsNode{m: m, ns: ns}
	n.fixedDir = fixedDir{t: t, mode: 0o755, ns: ns.Serial(), entries: n.entries}
	return n
}

// entries are the namespace's fixed children.
func (n *nsNode) entries() []fixedEntry {
	ns := n.ns
	return []fixedEntry{
		{ctlName, slotNSCtl, syscall.S_IFREG, func() gofs.InodeEmbedder { return newNSCtl(n.t, ns) }},
		{"shm", slotShmDir, syscall.S_IFDIR, func() gofs.InodeEmbedder { return newShmDir(n.m, ns) }},
		{"msg", slotMsgDir, syscall.S_IFDIR, func() gofs.InodeEmbedder { return newMsgDir(n.m, ns) }},
		{"sem", slotSemDir, syscall.S_IFDIR, func() gofs.InodeEmbedder { return newSemDir(n.m, ns) }},
		{"sysvipc", slotSysvipc, syscall.S_IFDIR, func() gofs.InodeEmbedder {
			return &fixedDir{t: n.t, mode: 0o755, ns: ns.Serial(), entries: n.sysvipc}
		}},
		{"limits", slotLimits, syscall.S_IFDIR, func() gofs.InodeEmbedder {
			return &fixedDir{t: n.t, mode: 0o755, ns: ns.Serial(), entries: n.limits}
		}},
	}
}

// sysvipc are the files of sysvipc/.
func (n *nsNode) sysvipc() []fixedEntry {
	ns := n.ns
	text := func(render func() string) func() gofs.InodeEmbedder {
		return func() gofs.InodeEmbedder { return &textNode{render: render} }
	}
	return []fixedEntry{
		{"msg", slotSysvipcMsg, syscall.S_IFREG, text(ns.Msg.SysvipcMsg)},
		{"sem", slotSysvipcSem, syscall.S_IFREG, text(ns.Sem.SysvipcSem)},
		{"shm", slotSysvipcShm, syscall.S_IFREG, text(func() string { n.m.afterReleases(); n.m.settle(); return ns.Shm.SysvipcShm() })},
	}
}

// limits are the files of limits/.
func (n *nsNode) limits() []fixedEntry {
	names := slices.Concat(nsmodel.LimitNames, nsmodel.ControlNames)
	out := make([]fixedEntry, len(names))
	for i, name := range names {
		out[i] = fixedEntry{name, slotLimit + i, syscall.S_IFREG, func() gofs.InodeEmbedder {
			return &quotaNode{limitNode: limitNode{ns: n.ns, name: name}}
		}}
	}
	return out
}

// Unlink and Rmdir refuse: the children live as long as the namespace.
func (n *nsNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
func (n *nsNode) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EPERM }

// fixedEntry is a child of a directory that has it as long as it lives.
type fixedEntry struct {
	name string
	slot int
	// mode is the file type.
	mode uint32
	make func() gofs.InodeEmbedder
}

// fixedDir is a directory whose children are fixed: a namespace,
// sysvipc/, limits/. Its children are made at their lookup (nsNode).
type fixedDir struct {
	gofs.Inode
	t *tenancy
	// mode is the permission bits; ns is the namespace's serial, for
	// the children's identity.
	mode    uint32
	ns      uint64
	entries func() []fixedEntry
}

var (
	_ = (gofs.NodeGetattrer)((*fixedDir)(nil))
	_ = (gofs.NodeSetattrer)((*fixedDir)(nil))
	_ = (gofs.NodeLookuper)((*fixedDir)(nil))
	_ = (gofs.NodeReaddirer)((*fixedDir)(nil))
	_ = (gofs.NodeUnlinker)((*fixedDir)(nil))
)

func (d *fixedDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFDIR|d.mode)
	d.t.fixedAttrs(out)
	return 0
}

// Setattr refuses what /proc/sys refuses of its directories.
func (d *fixedDir) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := fixedSetattr(callerCred(ctx), in, d.mode, false); e != 0 {
		return e
	}
	return d.Getattr(ctx, f, out)
}

func (d *fixedDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	for _, e := range d.entries() {
		if e.name != name {
			continue
		}
		node := e.make()
		if ga, ok := node.(gofs.NodeGetattrer); ok {
			var a fuse.AttrOut
			if errno := ga.Getattr(ctx, nil, &a); errno != 0 {
				return nil, errno
			}
			out.Attr = a.Attr
			out.SetAttrTimeout(a.Timeout())
		}
		d.t.fixedEntry(out)
		return d.NewInode(ctx, node, sharedAttr(uint64(e.mode), fixedIno(d.ns, e.slot))), 0
	}
	return nil, syscall.ENOENT
}

func (d *fixedDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	es := d.entries()
	ents := make([]fuse.DirEntry, len(es))
	for i, e := range es {
		ents[i] = fuse.DirEntry{Name: e.name, Mode: e.mode, Ino: fixedIno(d.ns, e.slot)}
	}
	return gofs.NewListDirStream(ents), 0
}

// Unlink refuses, as unlink of a /proc/sys or /proc/sysvipc file is
// refused.
func (d *fixedDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
