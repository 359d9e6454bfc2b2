package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// semDirNode is MOUNT/<ns>/sem/: the semaphore set id table, one file per
// set named by its key, and ctl.
type semDirNode struct {
	tableDir
}

var (
	_ = (gofs.NodeGetattrer)((*semDirNode)(nil))
	_ = (gofs.NodeLookuper)((*semDirNode)(nil))
	_ = (gofs.NodeReaddirer)((*semDirNode)(nil))
	_ = (gofs.NodeCreater)((*semDirNode)(nil))
	_ = (gofs.NodeUnlinker)((*semDirNode)(nil))
	_ = (gofs.NodeOnForgetter)((*semDirNode)(nil))
)

// newSemDir makes MOUNT/<ns>/sem/.
func newSemDir(m *mountState, ns *nsmodel.Namespace) gofs.InodeEmbedder {
	d := &semDirNode{tableDir{m: m, ns: ns, table: ns.Sem, entries: ns.Sem.List, ctlSlot: slotSemCtl, infoSlot: slotSemInfo}}
	d.exec, d.infoText = d.ctl, d.info
	return d
}

// setInode gives each lookup of a set an inode of its own: same inode
// number, new generation, so a new node for the kernel. A process blocked
// in semop holds its inode's lock (shared), and unlink, chmod, chown and
// the truncation of `>` each take the lock of the inode they name; were
// that the same inode, they would wait for the sleeper, which may be
// waiting for them. So the entry is never cached, which would hand the
// same inode to the next path walk; the attributes are, until the set
// changes (semcache.go).
func (d *semDirNode) setInode(ctx context.Context, s *nsmodel.Sem, out *fuse.EntryOut) *gofs.Inode {
	n := &semNode{m: d.m, t: d.ns.Sem, s: s}
	ch := d.NewInode(ctx, n, freshAttr(syscall.S_IFREG, serialIno(s.Serial())))
	// Known to the set's changes before its attributes are read, so that
	// none is missed.
	n.sc = d.m.sets.add(d.m, s, n)
	n.fill(&out.Attr)
	out.SetAttrTimeout(objectTimeout)
	return ch
}

// find resolves a file name to the set that has it now.
func (d *semDirNode) find(name string) (*nsmodel.Sem, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	s, err := d.ns.Sem.Lookup(ref)
	if err != nil || d.ns.Sem.Stat(s).Name != name {
		// private.<id> of a set that has a key is not its name.
		return nil, syscall.ENOENT
	}
	return s, 0
}

func (d *semDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d.show()
	if name == infoName {
		return d.infoInode(ctx, out), 0
	}
	if name == ctlName {
		return d.ctlInode(ctx, out), 0
	}
	s, e := d.find(name)
	if e == syscall.ENOENT {
		// A set made without the kernel seeing it (ctl IPC_CREAT)
		// drops this negative entry.
		out.SetEntryTimeout(negativeTimeout)
	}
	if e != 0 {
		return nil, e
	}
	return d.setInode(ctx, s, out), 0
}

func (d *semDirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	d.show()
	return d.list(), 0
}

// Create is open(O_CREAT) of a key that has no set: semget(key, 1,
// IPC_CREAT|mode), with IPC_EXCL for O_EXCL. An open cannot say how many
// semaphores it wants, so the set is fresh: it has one, until its first
// SETALL sets their number.
func (d *semDirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ref, err := nsmodel.ParseEntryName(name)
	if err != nil || ref.ByID {
		return nil, nil, 0, syscall.EINVAL
	}
	d.show()
	c := callerCred(ctx)
	s, err := d.ns.Sem.Get(c, nsmodel.SemGet{
		Key:    ref.Key,
		Nsems:  1,
		Mode:   mode & nsmodel.ModePerm,
		Create: true,
		Excl:   flags&syscall.O_EXCL != 0,
		Access: semOpenAccess(flags),
		Fresh:  true,
	})
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ch := d.setInode(ctx, s, out)
	// Other directories that show this table may hold a negative entry.
	d.m.inval.nameCame(d.ns.Sem, name, d.EmbeddedInode())
	return ch, newSemHandle(s, ch.Operations().(*semNode).sc, c, flags), semOpenFlags, 0
}

// Unlink is IPC_RMID.
func (d *semDirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if name == ctlName || name == infoName {
		return syscall.EPERM
	}
	s, e := d.find(name)
	if e != 0 {
		return e
	}
	if err := d.ns.Sem.Remove(callerCred(ctx), s); err != nil {
		return errno(err)
	}
	// Inodes of the set that other lookups made show it linked.
	d.m.sets.changed(s)
	return 0
}
