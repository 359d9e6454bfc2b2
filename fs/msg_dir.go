package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// msgDirNode is MOUNT/<ns>/msg/: the message queue id table, one file
// per queue named by its key, and ctl. A name may carry receive and
// framing options after a comma (msgname.go); such names are not listed.
type msgDirNode struct {
	tableDir
}

var (
	_ = (gofs.NodeGetattrer)((*msgDirNode)(nil))
	_ = (gofs.NodeLookuper)((*msgDirNode)(nil))
	_ = (gofs.NodeReaddirer)((*msgDirNode)(nil))
	_ = (gofs.NodeCreater)((*msgDirNode)(nil))
	_ = (gofs.NodeUnlinker)((*msgDirNode)(nil))
	_ = (gofs.NodeOnForgetter)((*msgDirNode)(nil))
)

// newMsgDir makes MOUNT/<ns>/msg/.
func newMsgDir(m *mountState, ns *nsmodel.Namespace) gofs.InodeEmbedder {
	d := &msgDirNode{tableDir{m: m, ns: ns, table: ns.Msg, entries: ns.Msg.List, ctlSlot: slotMsgCtl, infoSlot: slotMsgInfo}}
	d.exec, d.infoText = d.ctl, d.info
	return d
}

// queueInode makes a new inode for each lookup of a queue's name: same
// st_ino, a new generation. The kernel holds an inode's lock for the
// whole of a direct write, so a writer blocked on a full queue would hold
// up every unlink, chmod, chown and O_TRUNC open of its inode, and those
// wait for that lock without heeding signals. With an inode per lookup,
// blocked writers hold only the inodes they opened. (The kernel, seeing a
// new node for a cached name, looks it up once more.) So the entry is
// never cached, which would hand the same inode to the next path walk;
// the attributes are, until the queue changes (msgcache.go).
func (d *msgDirNode) queueInode(ctx context.Context, q *nsmodel.Msg, v msgView, out *fuse.EntryOut) *gofs.Inode {
	n := &msgNode{m: d.m, t: d.ns.Msg, q: q, view: v}
	ch := d.NewInode(ctx, n, freshAttr(syscall.S_IFREG, v.ino(q.Serial())))
	// Known to the queue's changes before its attributes are read, so
	// that none is missed.
	n.qc = d.m.queues.add(d.m, q, n)
	n.fill(&out.Attr)
	out.SetAttrTimeout(objectTimeout)
	return ch
}

// find resolves a file name, options and all, to the queue that has it
// now: ENOENT for a name that no queue has, EINVAL for options that do
// not parse.
func (d *msgDirNode) find(name string) (*nsmodel.Msg, msgView, syscall.Errno) {
	entry, v, err := parseMsgName(name)
	if err != nil {
		return nil, v, errno(err)
	}
	ref, err := nsmodel.ParseEntryName(entry)
	if err != nil {
		return nil, v, syscall.ENOENT
	}
	q, err := d.ns.Msg.Lookup(ref)
	if err != nil || d.ns.Msg.Stat(q).Name != entry {
		// private.<id> of a queue that has a key is not its name.
		return nil, v, syscall.ENOENT
	}
	return q, v, 0
}

func (d *msgDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d.show()
	if name == infoName {
		return d.infoInode(ctx, out), 0
	}
	if name == ctlName {
		return d.ctlInode(ctx, out), 0
	}
	q, v, e := d.find(name)
	if e == syscall.ENOENT && v.spec == "" {
		// A queue made without the kernel seeing it (ctl IPC_CREAT)
		// drops this negative entry; names with options are not
		// remembered, so that no such drop is needed for them.
		out.SetEntryTimeout(negativeTimeout)
	}
	if e != 0 {
		return nil, e
	}
	return d.queueInode(ctx, q, v, out), 0
}

func (d *msgDirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	d.show()
	return d.list(), 0
}

// Create is open(O_CREAT) of a name that no queue has: msgget with
// IPC_CREAT, and IPC_EXCL for O_EXCL. Options in the name apply to the
// handle it returns, so `echo hi > msg/0x00000001,mtext` makes the queue
// and sends.
func (d *msgDirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	entry, v, err := parseMsgName(name)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ref, err := nsmodel.ParseEntryName(entry)
	if err != nil || ref.ByID {
		return nil, nil, 0, syscall.EINVAL
	}
	d.show()
	c := callerCred(ctx)
	q, err := d.ns.Msg.Open(c, nsmodel.MsgGet{
		Key:    ref.Key,
		Mode:   mode & nsmodel.ModePerm,
		Create: true,
		Excl:   flags&syscall.O_EXCL != 0,
		Access: accessOf(flags),
	})
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ch := d.queueInode(ctx, q, v, out)
	// Other directories that show this table may hold a negative entry.
	d.m.inval.nameCame(d.ns.Msg, entry, d.EmbeddedInode())
	n := ch.Operations().(*msgNode)
	return ch, newMsgHandle(q, n.qc, v, flags), msgOpenFlags, 0
}

// Unlink is IPC_RMID. A name with options is a way to open a queue, not
// a name of it, and cannot be removed.
func (d *msgDirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if name == ctlName || name == infoName {
		return syscall.EPERM
	}
	q, v, e := d.find(name)
	if e != 0 {
		return e
	}
	if v.spec != "" {
		return syscall.EPERM
	}
	if err := d.ns.Msg.Remove(callerCred(ctx), q); err != nil {
		return errno(err)
	}
	// Inodes of the queue that other lookups made show it linked.
	d.m.queues.changed(q)
	return 0
}
