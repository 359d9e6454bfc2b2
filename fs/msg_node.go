package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// msgMaxText is the longest mtext this mount carries, whatever msgmax
// says: one message must reach the server as one FUSE request, and the
// kernel cuts a direct write into requests of at most max_write (1 MiB,
// fs/mount.go) and of at most max_pages (256) pinned pages. 253 pages of
// mtext stay within 256 pages however the buffer is aligned, even when
// the mtype comes from a separate iovec that straddles two pages.
const msgMaxText = 253 << 12

// msgMaxWire is the longest struct msgbuf a write may carry.
const msgMaxWire = nsmodel.MsgHdrSize + msgMaxText

// msgBlksize is st_blksize of a queue: a power of two no smaller than any
// message, so that a program that sizes its buffer by it (cat, stdio)
// never gets E2BIG.
const msgBlksize = 1 << 20

// msgOpenFlags is how every queue handle is opened. Direct I/O brings
// each read and write to the server whole; a stream has no offset, so
// every read(2) and write(2) arrives at offset 0 and a request at any
// other offset can only be the tail of one that the kernel cut; parallel
// direct writes keep a writer blocked on a full queue from holding the
// inode lock against the others (and their signals); no flush makes a
// close cost no round trip.
const msgOpenFlags = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_STREAM | fuse.FOPEN_PARALLEL_DIRECT_WRITES | fuse.FOPEN_NOFLUSH

// msgNode is a message queue, as its file or as one of the names with
// options that open it in another way.
type msgNode struct {
	gofs.Inode
	m    *mountState
	t    *nsmodel.MsgTable
	q    *nsmodel.Msg
	view msgView
	// qc is what the kernel caches of the queue, this inode among it.
	qc *queueCache
}

var (
	_ = (gofs.NodeGetattrer)((*msgNode)(nil))
	_ = (gofs.NodeSetattrer)((*msgNode)(nil))
	_ = (gofs.NodeOpener)((*msgNode)(nil))
	_ = (gofs.NodeOnForgetter)((*msgNode)(nil))
)

func (n *msgNode) OnForget() { n.m.queues.remove(n.q, n) }

// fill renders msqid_ds as a stat: atime is msg_rtime, mtime msg_stime,
// ctime msg_ctime. The size is the longest write the file takes: the
// kernel takes the inode lock for a direct write that reaches past the
// size, so a smaller one would serialize the writers.
func (n *msgNode) fill(a *fuse.Attr) {
	st := n.t.Stat(n.q)
	n.qc.replied()
	a.Mode = syscall.S_IFREG | st.Mode&nsmodel.ModePerm
	a.Size = msgMaxWire
	if n.view.mtext {
		a.Size = msgMaxText
	}
	a.Blksize = msgBlksize
	// As many blocks as the size: a file with fewer looks sparse, and
	// cp then asks lseek(SEEK_DATA), which a stream refuses (ESPIPE).
	a.Blocks = a.Size / 512
	a.Owner = fuse.Owner{Uid: st.UID, Gid: st.GID}
	a.Nlink = 1
	if st.Deleted {
		a.Nlink = 0
	}
	a.Atime = uint64(st.Rtime)
	a.Mtime = uint64(st.Stime)
	a.Ctime = uint64(st.Ctime)
	a.Ino = n.view.ino(st.Serial)
}

func (n *msgNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	out.SetTimeout(objectTimeout)
	return 0
}

// Setattr is chmod and chown (IPC_SET). A truncation to 0, as `>`
// sends, and setting times, as touch does, are checked as on any file
// and change nothing; a queue has no other size to set.
func (n *msgNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattrObject(ctx, n, f, in, out)
}

func (n *msgNode) checkTimes(c *nsmodel.Cred, now bool) error {
	st := n.t.Stat(n.q)
	return st.CheckTimes(c, now)
}

func (n *msgNode) resize(c *nsmodel.Cred, size uint64, byPath bool) error {
	return fixedSize(size, byPath, func() error { return n.t.Access(c, n.q, nsmodel.AccessWrite) })
}

// ipcSet drops the attributes the queue's other inodes hold.
func (n *msgNode) ipcSet(c *nsmodel.Cred, a nsmodel.SetAttr) error {
	if err := n.t.Set(c, n.q, a); err != nil {
		return err
	}
	n.qc.changed(n)
	return nil
}

// Open checks the access mode as msgsnd (write) and msgrcv (read) would;
// the handle keeps that right.
func (n *msgNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if err := n.t.Access(callerCred(ctx), n.q, accessOf(flags)); err != nil {
		return nil, 0, errno(err)
	}
	return newMsgHandle(n.q, n.qc, n.view, flags), msgOpenFlags, 0
}
