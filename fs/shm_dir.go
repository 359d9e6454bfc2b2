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
	tableDir
}

func newShmDir(m *mountState, ns *nsmodel.Namespace) gofs.InodeEmbedder {
	d := &shmDirNode{tableDir{m: m, ns: ns, table: ns.Shm, entries: ns.Shm.List, ctlSlot: slotShmCtl, infoSlot: slotShmInfo}}
	d.exec, d.infoText = d.ctl, d.info
	return d
}

var (
	_ = (gofs.NodeGetattrer)((*shmDirNode)(nil))
	_ = (gofs.NodeLookuper)((*shmDirNode)(nil))
	_ = (gofs.NodeReaddirer)((*shmDirNode)(nil))
	_ = (gofs.NodeCreater)((*shmDirNode)(nil))
	_ = (gofs.NodeUnlinker)((*shmDirNode)(nil))
	_ = (gofs.NodeOnForgetter)((*shmDirNode)(nil))
)

const ctlName = "ctl"

// segInode gives the kernel the node of segment s, whose snapshot st was
// taken for the lookup, and lets it keep the entry and attributes.
func (d *shmDirNode) segInode(ctx context.Context, s *nsmodel.Shm, st *nsmodel.ShmStat, out *fuse.EntryOut) *gofs.Inode {
	ch := d.NewInode(ctx, &segNode{m: d.m, t: d.ns.Shm, s: s}, sharedAttr(syscall.S_IFREG, serialIno(s.Serial())))
	// A node the kernel already had is kept, and the new one dropped.
	ch.Operations().(*segNode).show(&out.Attr, st)
	out.SetEntryTimeout(objectTimeout)
	out.SetAttrTimeout(objectTimeout)
	return ch
}

// find resolves a file name to the segment that has it now, and its
// snapshot.
func (d *shmDirNode) find(name string) (*nsmodel.Shm, *nsmodel.ShmStat, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil {
		return nil, nil, syscall.ENOENT
	}
	d.m.settleRemoved()
	s, err := d.ns.Shm.Lookup(ref)
	if err != nil {
		return nil, nil, syscall.ENOENT
	}
	st := d.ns.Shm.Stat(s)
	if st.Name != name || st.Mode&nsmodel.ShmDest != 0 {
		return nil, nil, syscall.ENOENT
	}
	return s, &st, 0
}

// Lookup of a name that no segment has leaves a negative entry, which a
// segment made without the kernel seeing it (ctl IPC_CREAT) drops.
func (d *shmDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d.show()
	if name == infoName {
		return d.infoInode(ctx, out), 0
	}
	if name == ctlName {
		return d.ctlInode(ctx, out), 0
	}
	s, st, e := d.find(name)
	if e != 0 {
		out.SetEntryTimeout(negativeTimeout)
		return nil, e
	}
	return d.segInode(ctx, s, st, out), 0
}

func (d *shmDirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	d.show()
	return d.list(), 0
}

// Create is open(O_CREAT) of a key that the kernel has not seen: shmget
// with IPC_CREAT (and IPC_EXCL for O_EXCL), then an attach.
func (d *shmDirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil || ref.ByID {
		return nil, nil, 0, syscall.EINVAL
	}
	d.show()
	c := callerCred(ctx)
	d.m.settleRemoved()
	s, err := d.ns.Shm.Open(c, nsmodel.ShmGet{
		Key:        ref.Key,
		Mode:       mode & nsmodel.ModePerm,
		Create:     true,
		Excl:       flags&syscall.O_EXCL != 0,
		Access:     accessOf(flags),
		AllowEmpty: true,
	})
	if err != nil {
		if err == syscall.ENOSPC {
			d.m.createFailed()
		}
		return nil, nil, 0, errno(err)
	}
	st := d.ns.Shm.Stat(s)
	ch := d.segInode(ctx, s, &st, out)
	// Other directories that show this table may hold a negative entry.
	d.m.inval.nameCame(d.ns.Shm, name, d.EmbeddedInode())
	return ch, &segHandle{m: d.m, t: d.ns.Shm, s: s, pid: d.m.held.process(c.PID)}, fuse.FOPEN_NOFLUSH, 0
}

// Unlink is IPC_RMID.
func (d *shmDirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if name == ctlName || name == infoName {
		return syscall.EPERM
	}
	s, _, e := d.find(name)
	if e != 0 {
		return e
	}
	// Whether it goes now or at its last detach depends on nattch: a
	// close made before the unlink counts.
	d.m.afterReleases()
	d.m.settleSeg(s)
	if err := d.ns.Shm.Remove(callerCred(ctx), s); err != nil {
		return errno(err)
	}
	d.m.removed(s)
	// The kernel drops this entry itself; other directories that show the
	// table may have it too.
	d.m.inval.nameGone(d.ns.Shm, name, d.EmbeddedInode())
	return 0
}
