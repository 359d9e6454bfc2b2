package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// rootNode is MOUNT/: one directory per namespace, and self. With
// isolation, a caller that is not an administrator finds only its own
// namespace here.
type rootNode struct {
	gofs.Inode
	m *mountState
	t *tenancy
}

var (
	_ = (gofs.NodeOnAdder)((*rootNode)(nil))
	_ = (gofs.NodeLookuper)((*rootNode)(nil))
	_ = (gofs.NodeReaddirer)((*rootNode)(nil))
	_ = (gofs.NodeOpendirer)((*rootNode)(nil))
	_ = (gofs.NodeMkdirer)((*rootNode)(nil))
	_ = (gofs.NodeRmdirer)((*rootNode)(nil))
	_ = (gofs.NodeUnlinker)((*rootNode)(nil))
	_ = (gofs.NodeGetattrer)((*rootNode)(nil))
	_ = (gofs.NodeSetattrer)((*rootNode)(nil))
)

func (r *rootNode) OnAdd(ctx context.Context) {
	self := r.NewPersistentInode(ctx, &selfNode{t: r.t}, sharedAttr(syscall.S_IFLNK, selfIno))
	r.AddChild(selfName, self, false)
	// kernel/: the kernel's own namespaces (kernel_tree.go).
	if k := newKernelTree(r.m, r.t); k != nil {
		r.AddChild(kernelName, r.NewPersistentInode(ctx, &kernelDir{k: k}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: k.ino(0, kinoTop, 0)}), false)
	}
}

func (r *rootNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	// Never cached: a stat of the mount point is how a dead server is
	// noticed (ENOTCONN).
	nsDirAttr(&out.Attr)
	return 0
}

// Setattr refuses what /proc/sys refuses of its directories.
func (r *rootNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := fixedSetattr(callerCred(ctx), in, 0o755, true); e != 0 {
		return e
	}
	return r.Getattr(ctx, f, out)
}

// nsInode gives the kernel the node of namespace ns: the one it holds,
// or a new one (nsdir.go).
func (r *rootNode) nsInode(ctx context.Context, ns *nsmodel.Namespace, out *fuse.EntryOut) *gofs.Inode {
	nsDirAttr(&out.Attr)
	r.t.topEntry(out)
	return r.NewInode(ctx, newNSNode(r.m, r.t, ns), sharedAttr(syscall.S_IFDIR, serialIno(ns.Serial())))
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if name == selfName {
		self := r.GetChild(selfName)
		self.Operations().(*selfNode).fill(&out.Attr)
		return self, 0
	}
	if k := r.GetChild(kernelName); name == kernelName && k != nil {
		kernelDirAttr(&out.Attr, k.StableAttr().Ino)
		return k, 0
	}
	ns := r.m.model.Get(name)
	if ns == nil || !r.t.sees(callerCred(ctx), ns) {
		return nil, syscall.ENOENT
	}
	return r.nsInode(ctx, ns, out), 0
}

// Opendir ends the namespaces whose kernel namespace has ended, so that
// a listing never shows one that is gone. It is the place for it: the
// kernel holds no lock of the root during an OPENDIR, and ending a
// namespace drops its entry, which takes that lock.
func (r *rootNode) Opendir(ctx context.Context) syscall.Errno {
	r.t.reap()
	return 0
}

// Readdir lists the namespaces a caller may see.
func (r *rootNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	var list []*nsmodel.Namespace
	if c := callerCred(ctx); r.t.isolate && !r.m.model.IsAdmin(c) {
		if own := r.t.own(c); own != nil {
			list = append(list, own)
		}
	} else {
		for _, name := range r.m.model.Names() {
			if ns := r.m.model.Get(name); ns != nil {
				list = append(list, ns)
			}
		}
	}
	ents := make([]fuse.DirEntry, 0, len(list)+1)
	for _, ns := range list {
		ents = append(ents, fuse.DirEntry{Name: ns.Name, Mode: syscall.S_IFDIR, Ino: serialIno(ns.Serial())})
	}
	ents = append(ents, fuse.DirEntry{Name: selfName, Mode: syscall.S_IFLNK, Ino: r.GetChild(selfName).StableAttr().Ino})
	if k := r.GetChild(kernelName); k != nil {
		ents = append(ents, fuse.DirEntry{Name: kernelName, Mode: syscall.S_IFDIR, Ino: k.StableAttr().Ino})
	}
	return gofs.NewListDirStream(ents), 0
}

// mayManage reports whether c may make and remove namespaces: as only
// root may make an IPC namespace (CAP_SYS_ADMIN), and with isolation
// only an administrator, not root of a container.
func (r *rootNode) mayManage(c *nsmodel.Cred) bool {
	if r.t.isolate {
		return r.m.model.IsAdmin(c)
	}
	return c.Capable(nsmodel.CapSysAdmin)
}

// Mkdir makes a namespace.
func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if !r.mayManage(callerCred(ctx)) {
		return nil, syscall.EPERM
	}
	if name == selfName || name == kernelName {
		return nil, syscall.EEXIST
	}
	ns, err := r.m.model.Create(name)
	if err != nil {
		return nil, errno(err)
	}
	return r.nsInode(ctx, ns, out), 0
}

// Unlink refuses to remove self, as unlink of /proc/self is refused
// (the only file here; the namespaces are directories).
func (r *rootNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return syscall.EPERM
}

// Rmdir removes an empty, unbound namespace.
func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	c := callerCred(ctx)
	if !r.mayManage(c) {
		// A tenant learns nothing of names it cannot see.
		if ns := r.m.model.Get(name); r.t.isolate && (ns == nil || !r.t.sees(c, ns)) {
			return syscall.ENOENT
		}
		return syscall.EPERM
	}
	if name == selfName {
		return syscall.ENOTDIR
	}
	if name == kernelName {
		return syscall.EPERM
	}
	r.m.settle()
	return errno(r.m.model.Remove(name))
}
