package fs

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// The three kinds of a kernel namespace share one table directory and
// one object node; what differs is in kernelKind, one per kind.
const (
	kindShm = iota
	kindMsg
	kindSem
)

// kObj is what a table shows of an object: its /proc/sysvipc line or its
// *_STAT_ANY, whichever was read.
type kObj struct {
	key                 int32
	id                  int
	mode                uint32 // perms, with SHM_DEST and SHM_LOCKED for a segment
	uid, gid            uint32
	size                uint64 // shm_segsz; the cbytes of a queue; nsems of a set
	atime, mtime, ctime int64
}

// name is the object's file name: its key, or private.<id> for
// IPC_PRIVATE and for a segment removed while attached (the kernel sets
// its key to IPC_PRIVATE).
func (o *kObj) name() string {
	if o.key == 0 {
		return "private." + strconv.Itoa(o.id)
	}
	return fmt.Sprintf("0x%08x", uint32(o.key))
}

// list is the kind's table of namespace ns, as its /proc/sysvipc file
// shows it to c.
func list(ns *kernelipc.Namespace, c *kernelipc.Cred, kind int) ([]kObj, error) {
	var out []kObj
	switch kind {
	case kindShm:
		l, err := ns.ListShm(c)
		for _, s := range l {
			out = append(out, kObj{s.Key, s.ID, s.Mode, s.UID, s.GID, s.Size, s.Atime, s.Ctime, s.Ctime})
		}
		return out, err
	case kindMsg:
		l, err := ns.ListMsg(c)
		for _, q := range l {
			out = append(out, kObj{q.Key, q.ID, q.Mode, q.UID, q.GID, q.Cbytes, q.Rtime, q.Stime, q.Ctime})
		}
		return out, err
	default:
		l, err := ns.ListSem(c)
		for _, s := range l {
			out = append(out, kObj{s.Key, s.ID, s.Mode, s.UID, s.GID, s.Nsems, s.Otime, s.Otime, s.Ctime})
		}
		return out, err
	}
}

// statAny is object id as it is now, whoever asks: EINVAL once it is gone.
func statAny(ns *kernelipc.Namespace, kind, id int) (kObj, error) {
	switch kind {
	case kindShm:
		ds, err := ns.ShmStatAny(id)
		p := ds.Perm
		return kObj{p.Key, id, p.Mode, p.Uid, p.Gid, ds.Segsz, ds.Atime, ds.Ctime, ds.Ctime}, err
	case kindMsg:
		ds, err := ns.MsgStatAny(id)
		p := ds.Perm
		return kObj{p.Key, id, p.Mode, p.Uid, p.Gid, ds.Cbytes, ds.Rtime, ds.Stime, ds.Ctime}, err
	default:
		ds, err := ns.SemStatAny(id)
		p := ds.Perm
		return kObj{p.Key, id, p.Mode, p.Uid, p.Gid, ds.Nsems, ds.Otime, ds.Otime, ds.Ctime}, err
	}
}

// setAttr is IPC_SET of the kind.
func setAttr(ns *kernelipc.Namespace, c *kernelipc.Cred, kind, id int, a kernelipc.SetAttr) error {
	switch kind {
	case kindShm:
		return ns.ShmSet(c, id, a)
	case kindMsg:
		return ns.MsgSet(c, id, a)
	}
	return ns.SemSet(c, id, a)
}

// rmid is IPC_RMID of the kind.
func rmid(ns *kernelipc.Namespace, c *kernelipc.Cred, kind, id int) error {
	switch kind {
	case kindShm:
		return ns.ShmRmid(c, id)
	case kindMsg:
		return ns.MsgRmid(c, id)
	}
	return ns.SemRmid(c, id)
}

// get is shmget(key, 0, flag), msgget(key, flag) or semget(key, 0, flag).
// For a key that does not exist, IPC_CREAT gets the kernel's answer to a
// size or nsems of 0: EINVAL (docs/kernel.md).
func get(ns *kernelipc.Namespace, c *kernelipc.Cred, kind int, key int32, flag int) (int, error) {
	switch kind {
	case kindShm:
		return ns.ShmGet(c, key, 0, flag)
	case kindMsg:
		return ns.MsgGet(c, key, flag)
	}
	return ns.SemGet(c, key, 0, flag)
}

// kernelTable is kernel/ipc-N/shm, msg or sem.
type kernelTable struct {
	gofs.Inode
	k    *kernelTree
	id   kernelipc.NSID
	kind int
}

var (
	_ = (gofs.NodeLookuper)((*kernelTable)(nil))
	_ = (gofs.NodeReaddirer)((*kernelTable)(nil))
	_ = (gofs.NodeGetattrer)((*kernelTable)(nil))
	_ = (gofs.NodeCreater)((*kernelTable)(nil))
	_ = (gofs.NodeUnlinker)((*kernelTable)(nil))
)

func (d *kernelTable) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fixedAttr(&out.Attr, syscall.S_IFDIR|0o755)
	out.Attr.Ino = d.k.ino(d.id, kinoNSDir, 3+uint64(d.kind))
	return 0
}

// objIno is the inode number of object id of the table, under one of its
// names: a queue name with options (view.spec) gets a number of its own.
func (d *kernelTable) objIno(id int, view msgView) uint64 {
	ino := d.k.ino(d.id, kinoObject+uint64(d.kind), uint64(id))
	if view.spec == "" {
		return ino
	}
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(ino, 10) + ":" + view.spec))
	return h.Sum64()&(1<<60-1) | kinoBase | 1<<60
}

// find resolves a file name to the object it names now: a key by the
// kind's get with no access asked (which ipcperms always grants, as it
// does to any program), a private.<id> by *_STAT_ANY of the id. Neither
// reads the whole table.
func (d *kernelTable) find(ns *kernelipc.Namespace, c *kernelipc.Cred, entry string) (*kObj, error) {
	ref, err := nsmodel.ParseEntryName(entry)
	if err != nil {
		return nil, syscall.ENOENT
	}
	id := int(ref.ID)
	if !ref.ByID {
		if id, err = get(ns, c, d.kind, ref.Key, 0); err != nil {
			return nil, syscall.ENOENT
		}
	}
	o, err := statAny(ns, d.kind, id)
	if err != nil || (ref.ByID && o.key != 0) || (!ref.ByID && o.key != ref.Key) {
		// Gone, or made again, meanwhile; or a keyed object asked for
		// by id.
		return nil, syscall.ENOENT
	}
	return &o, nil
}

// object makes (or finds) the node of object o under one of its names.
func (d *kernelTable) object(ctx context.Context, o *kObj, view msgView, out *fuse.EntryOut) *gofs.Inode {
	ino := d.objIno(o.id, view)
	n := &kernelObj{k: d.k, nsid: d.id, kind: d.kind, id: o.id, view: view}
	n.fill(o, &out.Attr)
	out.Attr.Ino = ino
	noCache(out)
	return d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
}

func (d *kernelTable) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ns, err := d.k.namespace(d.id)
	if err != nil {
		return nil, errno(err)
	}
	if name == ctlName {
		ino := d.k.ino(d.id, kinoCtl, uint64(d.kind))
		fixedAttr(&out.Attr, syscall.S_IFREG|0o666)
		out.Attr.Ino = ino
		noCache(out)
		return d.NewInode(ctx, &ctlNode{exec: d.ctl, m: d.k.m}, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: ino}), 0
	}
	if name == infoName {
		return d.infoInode(ctx, out), 0
	}
	entry, view := name, msgView{mtype: 1}
	if d.kind == kindMsg {
		if entry, view, err = parseMsgName(name); err != nil {
			return nil, syscall.ENOENT
		}
	}
	o, err := d.find(ns, kcred(ctx), entry)
	if err != nil {
		return nil, errno(err)
	}
	return d.object(ctx, o, view, out), 0
}

func (d *kernelTable) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ns, err := d.k.namespace(d.id)
	if err != nil {
		return nil, errno(err)
	}
	objs, err := list(ns, kcred(ctx), d.kind)
	if err != nil {
		return nil, errno(err)
	}
	ents := []fuse.DirEntry{{Name: ctlName, Mode: syscall.S_IFREG, Ino: d.k.ino(d.id, kinoCtl, uint64(d.kind))}, d.infoEntry()}
	for i := range objs {
		ents = append(ents, fuse.DirEntry{Name: objs[i].name(), Mode: syscall.S_IFREG, Ino: d.objIno(objs[i].id, msgView{})})
	}
	return gofs.NewListDirStream(ents), 0
}

// Create is open(O_CREAT): the kind's get with IPC_CREAT, the mode, and
// IPC_EXCL for O_EXCL, then the open. A new segment or set needs a size
// or a count that an open cannot give: the kernel refuses it (EINVAL),
// and ctl IPC_CREAT is the way to make one.
func (d *kernelTable) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ns, err := d.k.namespace(d.id)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	entry, view := name, msgView{mtype: 1}
	if d.kind == kindMsg {
		if entry, view, err = parseMsgName(name); err != nil {
			return nil, nil, 0, syscall.EINVAL
		}
	}
	ref, err := nsmodel.ParseEntryName(entry)
	if err != nil || ref.ByID {
		// A name that is no key cannot be made (private.<id> names an
		// object that exists or none).
		return nil, nil, 0, syscall.EINVAL
	}
	c := kcred(ctx)
	flag := unix.IPC_CREAT | int(mode&0o777)
	if flags&syscall.O_EXCL != 0 {
		flag |= unix.IPC_EXCL
	}
	id, err := get(ns, c, d.kind, ref.Key, flag)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	o, err := statAny(ns, d.kind, id)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ch := d.object(ctx, &o, view, out)
	h, fl, e := ch.Operations().(*kernelObj).open(ctx, ns, c, flags)
	if e != 0 {
		return nil, nil, 0, e
	}
	return ch, h, fl, 0
}

// Unlink is IPC_RMID.
func (d *kernelTable) Unlink(ctx context.Context, name string) syscall.Errno {
	ns, err := d.k.namespace(d.id)
	if err != nil {
		return errno(err)
	}
	if name == ctlName {
		return syscall.EPERM
	}
	entry := name
	if d.kind == kindMsg {
		if entry, _, err = parseMsgName(name); err != nil {
			return syscall.ENOENT
		}
	}
	c := kcred(ctx)
	o, err := d.find(ns, c, entry)
	if err != nil {
		return errno(err)
	}
	return errno(rmid(ns, c, d.kind, o.id))
}

// kernelObj is one object's file: a segment, a queue (under one of its
// names) or a set.
type kernelObj struct {
	gofs.Inode
	k    *kernelTree
	nsid kernelipc.NSID
	kind int
	id   int
	view msgView
}

var (
	_ = (gofs.NodeGetattrer)((*kernelObj)(nil))
	_ = (gofs.NodeSetattrer)((*kernelObj)(nil))
	_ = (gofs.NodeOpener)((*kernelObj)(nil))
)

// fill renders o as a stat. A segment's size is shm_segsz; a queue's and
// a set's are the longest write its file takes, as in a model namespace.
func (n *kernelObj) fill(o *kObj, a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | o.mode&0o777
	a.Owner = fuse.Owner{Uid: o.uid, Gid: o.gid}
	a.Nlink = 1
	switch n.kind {
	case kindShm:
		a.Size = o.size
		a.Blksize = uint32(nsmodel.PageSize)
		if o.mode&kernelipc.ShmDest != 0 {
			a.Nlink = 0
		}
	case kindMsg:
		a.Size = msgMaxWire
		if n.view.mtext {
			a.Size = msgMaxText
		}
	case kindSem:
		a.Size = semMaxWrite
	}
	a.Atime, a.Mtime, a.Ctime = uint64(o.atime), uint64(o.mtime), uint64(o.ctime)
	a.Ino = n.StableAttr().Ino
}

func (n *kernelObj) ns() (*kernelipc.Namespace, error) { return n.k.namespace(n.nsid) }

func (n *kernelObj) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ns, err := n.ns()
	if err != nil {
		return errno(err)
	}
	o, err := statAny(ns, n.kind, n.id)
	if err != nil {
		if f != nil {
			// Open, and so alive for its opener (a segment's attach);
			// but gone from the table.
			out.Attr.Mode = syscall.S_IFREG
			out.Attr.Ino = n.StableAttr().Ino
			return 0
		}
		return syscall.ENOENT
	}
	n.fill(&o, &out.Attr)
	out.SetTimeout(0)
	return 0
}

// Setattr is chmod and chown (IPC_SET). A segment's size is fixed at
// shmget: a truncate to any other size is EINVAL, as shmget of another
// size is; a queue or set takes the truncation to 0 of `>` and no other.
// Times are the kernel's and not settable: a touch is checked as on any
// file (kernelTimes) and changes nothing.
func (n *kernelObj) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ns, err := n.ns()
	if err != nil {
		return errno(err)
	}
	c := kcred(ctx)
	o, err := statAny(ns, n.kind, n.id)
	if err != nil {
		return syscall.ENOENT
	}
	if e := kernelTimes(c, in, o.uid, writableBy(c, &o)); e != 0 {
		return e
	}
	if size, ok := in.GetSize(); ok {
		if (n.kind == kindShm && size != o.size && !(size == 0 && f != nil)) || (n.kind != kindShm && size != 0) {
			return syscall.EINVAL
		}
	}
	if a, ok := ipcSetOf(in); ok {
		ka := kernelipc.SetAttr{UID: a.UID, GID: a.GID, Mode: a.Mode}
		if err := setAttr(ns, c, n.kind, n.id, ka); err != nil {
			return errno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

func (n *kernelObj) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ns, err := n.ns()
	if err != nil {
		return nil, 0, errno(err)
	}
	return n.open(ctx, ns, kcred(ctx), flags)
}

func (n *kernelObj) open(ctx context.Context, ns *kernelipc.Namespace, c *kernelipc.Cred, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	switch n.kind {
	case kindShm:
		return n.openSeg(ns, c, flags)
	case kindMsg:
		return n.openQueue(ctx, ns, c, flags)
	}
	return n.openSet(ctx, ns, c, flags)
}

// openAccess is the mode bits an open asks of ipcperms for a queue or a
// set, as the flag of msgget(key, flag) asks them: read for a reader,
// write for a writer.
func openAccess(flags uint32) int {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_WRONLY:
		return 0o200
	case syscall.O_RDWR:
		return 0o600
	}
	return 0o400
}

// checkOpen asks the kernel whether c may open the object: the kind's
// get of its key with the access as the flag (ipcperms). An object
// without a key cannot be asked that way; each call on it is checked.
func (n *kernelObj) checkOpen(ns *kernelipc.Namespace, c *kernelipc.Cred, access int) error {
	o, err := statAny(ns, n.kind, n.id)
	if err != nil {
		return syscall.ENOENT
	}
	if o.key == 0 {
		return nil
	}
	_, err = get(ns, c, n.kind, o.key, access)
	return err
}
