package fs

import (
	"context"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// tableDir is what the three id table directories (shm/, msg/, sem/)
// share: the directory's attributes and their refusals, its ctl file,
// and its place among the directories that the invalidator tells of
// names that changed behind the kernel's back (cache.go).
type tableDir struct {
	gofs.Inode
	m  *mountState
	ns *nsmodel.Namespace
	// table is the model's table, as the invalidator knows it.
	table any
	// ctlSlot is the identity slot of the table's ctl (ident.go).
	ctlSlot int
	// exec runs the commands written to ctl.
	exec ctlExec
	// infoSlot is the identity slot of the table's info file, and
	// infoText renders it (info_table.go).
	infoSlot int
	infoText func() string
	// entries lists the table (snapshots taken under its lock).
	entries func() []nsmodel.ObjectStat
	// shown is set once the directory has served a request: only then
	// can the kernel hold names in it, and only then is the node the
	// one the kernel holds, not one made for a lookup that found it
	// (nsdir.go). The invalidator knows it from then until OnForget.
	shown atomic.Bool
}

// tableDirAttr is the mode of an id table: like /dev/shm, anyone may
// create in it, since shmget asks no permission of a directory.
func tableDirAttr(a *fuse.Attr) { fixedAttr(a, syscall.S_IFDIR|0o1777) }

func (d *tableDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	tableDirAttr(&out.Attr)
	out.SetTimeout(fixedTimeout)
	return 0
}

// Setattr refuses what /proc/sys refuses of its directories: the mode
// and owner of a table are the mount's.
func (d *tableDir) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := fixedSetattr(callerCred(ctx), in, 0o1777, true); e != 0 {
		return e
	}
	return d.Getattr(ctx, f, out)
}

// show records, at the first request the directory serves, that the
// kernel holds it.
func (d *tableDir) show() {
	if !d.shown.Load() && d.shown.CompareAndSwap(false, true) {
		d.m.inval.addDir(d.table, d.EmbeddedInode())
	}
}

func (d *tableDir) OnForget() {
	if d.shown.Load() {
		d.m.inval.removeDir(d.table, d.EmbeddedInode())
	}
}

// ctlInode is the lookup of ctl.
func (d *tableDir) ctlInode(ctx context.Context, out *fuse.EntryOut) *gofs.Inode {
	n := &ctlNode{exec: d.exec, m: d.m}
	var a fuse.AttrOut
	n.Getattr(ctx, nil, &a)
	out.Attr = a.Attr
	out.SetEntryTimeout(fixedTimeout)
	out.SetAttrTimeout(fixedTimeout)
	return d.NewInode(ctx, n, sharedAttr(syscall.S_IFREG, fixedIno(d.ns.Serial(), d.ctlSlot)))
}

// infoInode is the lookup of info: like ctl, its attributes never
// change; its text is made at each open, as a /proc file's is.
func (d *tableDir) infoInode(ctx context.Context, out *fuse.EntryOut) *gofs.Inode {
	fixedAttr(&out.Attr, syscall.S_IFREG|0o444)
	out.SetEntryTimeout(fixedTimeout)
	out.SetAttrTimeout(fixedTimeout)
	return d.NewInode(ctx, &textNode{render: d.infoText}, sharedAttr(syscall.S_IFREG, fixedIno(d.ns.Serial(), d.infoSlot)))
}

// list is the listing: ctl and info, then each object by its name, from
// names and serials that the model copied under the table's lock.
func (d *tableDir) list() gofs.DirStream {
	es := d.entries()
	ents := make([]fuse.DirEntry, 0, len(es)+2)
	ents = append(ents,
		fuse.DirEntry{Name: ctlName, Mode: syscall.S_IFREG, Ino: fixedIno(d.ns.Serial(), d.ctlSlot)},
		fuse.DirEntry{Name: infoName, Mode: syscall.S_IFREG, Ino: fixedIno(d.ns.Serial(), d.infoSlot)})
	for _, e := range es {
		ents = append(ents, fuse.DirEntry{Name: e.Name, Mode: syscall.S_IFREG, Ino: serialIno(e.Serial)})
	}
	return gofs.NewListDirStream(ents)
}
