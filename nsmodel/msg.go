package nsmodel

import (
	"container/list"
	"sync"

	"golang.org/x/sys/unix"
)

// Msg is struct msg_queue: one message queue. Its Perm is protected by
// the table's mu, as every object's is; what moves on each send and
// receive is protected by the queue's own mu, so that traffic on one
// queue never takes a lock that another queue needs. Lock order:
// table.mu, then Msg.mu.
type Msg struct {
	Perm
	serial uint64
	table  *MsgTable

	// mu protects the fields below.
	mu sync.Mutex
	// removed mirrors Perm.Deleted for the send and receive paths, which
	// do not take the table's lock.
	removed bool
	// messages is q_messages, oldest first.
	messages msgList
	cbytes   uint64 // q_cbytes: bytes of mtext queued
	qbytes   uint64 // q_qbytes: most bytes (and messages) the queue holds
	lspid    int32
	lrpid    int32
	stime    int64
	rtime    int64
	ctime    int64
	// receivers and senders are q_receivers and q_senders, in the order
	// they blocked: *msgReceiver and *msgSender.
	receivers list.List
	senders   list.List
}

var _ Object = (*Msg)(nil)

// IPCPerm implements Object.
func (q *Msg) IPCPerm() *Perm { return &q.Perm }

// Serial implements Object.
func (q *Msg) Serial() uint64 { return q.serial }

// MsgStat is a snapshot of a queue, as msgctl(IPC_STAT) gives it.
type MsgStat struct {
	Perm
	CBytes uint64
	QNum   uint64
	QBytes uint64
	LSPID  int32
	LRPID  int32
	Stime  int64
	Rtime  int64
	Ctime  int64
	Name   string
	Serial uint64
}

// MsgTable is the message queue id table of a namespace.
type MsgTable struct {
	Registry
	ns *Namespace
}

func newMsgTable(ns *Namespace) *MsgTable {
	t := &MsgTable{ns: ns}
	t.init()
	return t
}

// MsgGet is the request of a msgget, or of the open of a queue's file.
type MsgGet struct {
	Key    int32
	Mode   uint32 // the low nine bits of msgflg
	Create bool   // IPC_CREAT
	Excl   bool   // IPC_EXCL
	// Access is what Open checks an existing queue for (AccessRead,
	// AccessWrite), taken from the open's access mode. Get ignores it:
	// msgget checks the bits of Mode, its msgflg.
	Access uint32
}

// Get is msgget (ipcget): it finds the queue of req.Key, or makes one.
// For an existing key: EEXIST with IPC_CREAT|IPC_EXCL, EACCES when
// ipcperms refuses the permission bits of req.Mode. A queue it makes is
// not checked, as newque does not check.
func (t *MsgTable) Get(c *Cred, req MsgGet) (*Msg, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.get(c, req, req.Mode&ModePerm)
}

// Open is what open(2) of a queue's name does: msgget, with an existing
// queue checked for req.Access. A queue the call creates is opened
// whatever its mode, as a file that open creates is.
func (t *MsgTable) Open(c *Cred, req MsgGet) (*Msg, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.get(c, req, req.Access)
}

// get is ipcget_public and ipcget_new. t.mu is held.
func (t *MsgTable) get(c *Cred, req MsgGet, access uint32) (*Msg, error) {
	if req.Key != IPCPrivate {
		if o := t.findKey(req.Key); o != nil {
			q := o.(*Msg)
			if req.Create && req.Excl {
				return nil, unix.EEXIST
			}
			if err := q.Check(c, access); err != nil {
				return nil, err
			}
			return q, nil
		}
		if !req.Create {
			return nil, unix.ENOENT
		}
	}
	return t.newQueue(c, req)
}

// newQueue is newque. t.mu is held.
func (t *MsgTable) newQueue(c *Cred, req MsgGet) (*Msg, error) {
	lim := t.ns.Limits()
	q := &Msg{
		Perm:   newPerm(req.Key, req.Mode, c),
		serial: nextSerial(),
		table:  t,
		qbytes: uint64(lim.MsgMnb),
		ctime:  t.ns.model.Now(),
	}
	if err := t.add(q, lim.MsgMni); err != nil {
		return nil, err
	}
	t.logMsg(q)
	return q, nil
}

// Lookup finds a queue by key or id.
func (t *MsgTable) Lookup(ref Ref) (*Msg, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.find(ref)
	if err != nil {
		return nil, err
	}
	return o.(*Msg), nil
}

// Access is the check an open of a queue's file makes: EIDRM once the
// queue is removed, else ipcperms for access. The handle then keeps the
// rights it was opened with, as any open file does; the kernel repeats
// the check on every msgsnd and msgrcv instead.
func (t *MsgTable) Access(c *Cred, q *Msg, access uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q.Deleted {
		return unix.EIDRM
	}
	return q.Check(c, access)
}

// Remove is IPC_RMID (freeque): the owner, the creator or CAP_SYS_ADMIN
// may; every blocked receiver and sender wakes with EIDRM and every
// queued message is dropped.
func (t *MsgTable) Remove(c *Cred, q *Msg) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := q.checkDown(c); err != nil {
		return err
	}
	t.remove(q)
	t.ns.logGone(kindMsg, &t.Registry, q.ID)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removed = true
	q.expunge(unix.EIDRM)
	q.messages.reset()
	q.cbytes = 0
	return nil
}

// Set is IPC_SET (msgctl_down): the owner, the creator or CAP_SYS_ADMIN
// may change uid, gid and the permission bits, and q_qbytes; raising
// q_qbytes above msgmnb also needs CAP_SYS_RESOURCE. Senders that a
// larger queue now holds are let in at once.
func (t *MsgTable) Set(c *Cred, q *Msg, a SetAttr) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := q.checkDown(c); err != nil {
		return err
	}
	if a.QBytes != nil && *a.QBytes > uint64(t.ns.Limits().MsgMnb) && !c.Capable(CapSysResource) {
		return unix.EPERM
	}
	if err := q.apply(a); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ctime = t.ns.model.Now()
	if a.QBytes != nil {
		q.qbytes = *a.QBytes
		q.admitSenders()
	}
	t.logMsg(q)
	return nil
}

// Stat is IPC_STAT.
func (t *MsgTable) Stat(q *Msg) MsgStat {
	t.mu.Lock()
	defer t.mu.Unlock()
	return q.stat()
}

// stat snapshots q. q's table lock is held.
func (q *Msg) stat() MsgStat {
	q.mu.Lock()
	defer q.mu.Unlock()
	return MsgStat{
		Perm:   q.Perm,
		CBytes: q.cbytes,
		QNum:   uint64(q.messages.len()),
		QBytes: q.qbytes,
		LSPID:  q.lspid,
		LRPID:  q.lrpid,
		Stime:  q.stime,
		Rtime:  q.rtime,
		Ctime:  q.ctime,
		Name:   EntryName(&q.Perm),
		Serial: q.serial,
	}
}

// List returns the queues in id order.
func (t *MsgTable) List() []*Msg {
	return collect(&t.Registry, func(q *Msg) *Msg { return q })
}

// Stats returns a snapshot of every queue, in id order, as
// /proc/sysvipc/msg lists them.
func (t *MsgTable) Stats() []MsgStat {
	return collect(&t.Registry, (*Msg).stat)
}
