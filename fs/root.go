package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// rootNode is MOUNT/: one directory per namespace.
type rootNode struct {
	gofs.Inode
	m *mountState
}

var (
	_ = (gofs.NodeLookuper)((*rootNode)(nil))
	_ = (gofs.NodeReaddirer)((*rootNode)(nil))
	_ = (gofs.NodeMkdirer)((*rootNode)(nil))
	_ = (gofs.NodeRmdirer)((*rootNode)(nil))
	_ = (gofs.NodeGetattrer)((*rootNode)(nil))
)

func (r *rootNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	nsDirAttr(&out.Attr)
	return 0
}

func (r *rootNode) nsInode(ctx context.Context, ns *nsmodel.Namespace, out *fuse.EntryOut) *gofs.Inode {
	nsDirAttr(&out.Attr)
	return r.NewInode(ctx, &nsNode{m: r.m, ns: ns}, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf(ns.Serial())})
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ns := r.m.model.Get(name)
	if ns == nil {
		return nil, syscall.ENOENT
	}
	return r.nsInode(ctx, ns, out), 0
}

func (r *rootNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	var ents []fuse.DirEntry
	for _, name := range r.m.model.Names() {
		if ns := r.m.model.Get(name); ns != nil {
			ents = append(ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: inoOf(ns.Serial())})
		}
	}
	return gofs.NewListDirStream(ents), 0
}

// Mkdir makes a namespace. Only root may, as only root may make an IPC
// namespace (CAP_SYS_ADMIN).
func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if !callerCred(ctx).Capable(nsmodel.CapSysAdmin) {
		return nil, syscall.EPERM
	}
	ns, err := r.m.model.Create(name)
	if err != nil {
		return nil, errno(err)
	}
	return r.nsInode(ctx, ns, out), 0
}

func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if !callerCred(ctx).Capable(nsmodel.CapSysAdmin) {
		return syscall.EPERM
	}
	r.m.settle()
	return errno(r.m.model.Remove(name))
}
