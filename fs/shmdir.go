package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// shmDirNode is MOUNT/<ns>/shm/: the shm id table, one file per segment
// named by its key, and ctl.
type shmDirNode struct {
	gofs.Inode
	m  *mountState
	ns *nsmodel.Namespace
}

var (
	_ = (gofs.NodeOnAdder)((*shmDirNode)(nil))
	_ = (gofs.NodeGetattrer)((*shmDirNode)(nil))
	_ = (gofs.NodeLookuper)((*shmDirNode)(nil))
	_ = (gofs.NodeReaddirer)((*shmDirNode)(nil))
	_ = (gofs.NodeCreater)((*shmDirNode)(nil))
	_ = (gofs.NodeUnlinker)((*shmDirNode)(nil))
)

const ctlName = "ctl"

// tableDirAttr is the mode of an id table: like /dev/shm, anyone may
// create in it, since shmget asks no permission of a directory.
func tableDirAttr(a *fuse.Attr) { fixedAttr(a, syscall.S_IFDIR|0o1777) }

func (d *shmDirNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	tableDirAttr(&out.Attr)
	return 0
}

func (d *shmDirNode) OnAdd(ctx context.Context) {
	ctl := d.NewPersistentInode(ctx, &ctlNode{exec: d.ctl}, gofs.StableAttr{Mode: syscall.S_IFREG})
	d.AddChild(ctlName, ctl, false)
}

func (d *shmDirNode) segInode(ctx context.Context, s *nsmodel.Shm, out *fuse.EntryOut) *gofs.Inode {
	n := &segNode{m: d.m, t: d.ns.Shm, s: s}
	n.fill(&out.Attr)
	return d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(s.Serial())})
}

// find resolves a file name to the segment that has it now.
func (d *shmDirNode) find(name string) (*nsmodel.Shm, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	s, err := d.ns.Shm.Lookup(ref)
	if err != nil {
		return nil, syscall.ENOENT
	}
	if st := d.ns.Shm.Stat(s); st.Name != name || st.Mode&nsmodel.ShmDest != 0 {
		return nil, syscall.ENOENT
	}
	return s, 0
}

func (d *shmDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if name == ctlName {
		out.Mode = syscall.S_IFREG | 0o666
		return d.GetChild(ctlName), 0
	}
	s, e := d.find(name)
	if e != 0 {
		return nil, e
	}
	return d.segInode(ctx, s, out), 0
}

func (d *shmDirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	segs := d.ns.Shm.List()
	ents := make([]fuse.DirEntry, 0, len(segs)+1)
	ents = append(ents, fuse.DirEntry{Name: ctlName, Mode: syscall.S_IFREG})
	for _, s := range segs {
		ents = append(ents, fuse.DirEntry{Name: nsmodel.EntryName(s.IPCPerm()), Mode: syscall.S_IFREG, Ino: inoOf(s.Serial())})
	}
	return gofs.NewListDirStream(ents), 0
}

// Create is open(O_CREAT) of a key that the kernel has not seen: shmget
// with IPC_CREAT (and IPC_EXCL for O_EXCL), then an attach.
func (d *shmDirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil || ref.ByID {
		return nil, nil, 0, syscall.EINVAL
	}
	c := callerCred(ctx)
	d.m.settle()
	s, err := d.ns.Shm.Open(c, nsmodel.ShmGet{
		Key:        ref.Key,
		Mode:       mode & nsmodel.ModePerm,
		Create:     true,
		Excl:       flags&syscall.O_EXCL != 0,
		Access:     accessOf(flags),
		AllowEmpty: true,
	})
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ch := d.segInode(ctx, s, out)
	return ch, &segHandle{m: d.m, t: d.ns.Shm, s: s, pid: c.PID}, 0, 0
}

// Unlink is IPC_RMID.
func (d *shmDirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if name == ctlName {
		return syscall.EPERM
	}
	s, e := d.find(name)
	if e != 0 {
		return e
	}
	d.m.settle()
	return errno(d.ns.Shm.Remove(callerCred(ctx), s))
}
