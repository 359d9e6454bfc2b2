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
//
// It is reached through its table's methods (which take the table's mu)
// and through Serial, Send and Receive (which take its mu).
type Msg struct {
	ipcObject
	table *MsgTable

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
	// watches are the pollers waiting on the queue (msg_poll.go).
	watches msgWatches
}

var _ Object = (*Msg)(nil)

// MsgStat is a snapshot of a queue, as msgctl(IPC_STAT) gives it.
type MsgStat struct {
	ObjectStat
	CBytes uint64
	QNum   uint64
	QBytes uint64
	LSPID  int32
	LRPID  int32
	Stime  int64
	Rtime  int64
	Ctime  int64
}

// MsgTable is the message queue id table of a namespace: msg_ids with
// msg_ops.
type MsgTable struct {
	ids[*Msg, MsgGet, MsgStat]
}

func newMsgTable(ns *Namespace) *MsgTable {
	t := &MsgTable{}
	t.setup(ns, ipcOps[*Msg, MsgGet, MsgStat]{getnew: t.newQueue,
		rmid: t.freeQue, update: t.msgctlDown, stat: (*Msg).stat})
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

func (req MsgGet) params() ipcParams {
	return ipcParams{key: req.Key, create: req.Create, excl: req.Excl, flg: req.Mode & ModePerm, access: req.Access}
}

// newQueue is newque. t.mu is held.
func (t *MsgTable) newQueue(c *Cred, req MsgGet) (*Msg, error) {
	lim := t.ns.Limits()
	q := &Msg{
		ipcObject: newObject(req.Key, req.Mode, c),
		table:     t,
		qbytes:    uint64(lim.MsgMnb),
		ctime:     t.ns.model.Now(),
	}
	if err := t.add(q, lim.MsgMni); err != nil {
		return nil, err
	}
	t.logMsg(q)
	return q, nil
}

// freeQue is freeque: every blocked receiver and sender wakes with EIDRM
// and every queued message is dropped. t.mu is held.
func (t *MsgTable) freeQue(q *Msg) {
	t.remove(q)
	t.ns.logGone(kindMsg, &t.Registry, q.perm.ID)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removed = true
	q.expunge(unix.EIDRM)
	q.messages.reset()
	q.cbytes = 0
}

// msgctlDown is the queue's part of IPC_SET (msgctl_down): q_qbytes as
// well, which raised above msgmnb also needs CAP_SYS_RESOURCE (EPERM);
// senders that a larger queue now holds are let in at once. t.mu is
// held.
func (t *MsgTable) msgctlDown(c *Cred, q *Msg, a SetAttr) error {
	if a.QBytes != nil && *a.QBytes > uint64(t.ns.Limits().MsgMnb) && !c.Capable(CapSysResource) {
		return unix.EPERM
	}
	if err := q.perm.apply(a); err != nil {
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

// stat snapshots q. q's table lock is held.
func (q *Msg) stat() MsgStat {
	q.mu.Lock()
	defer q.mu.Unlock()
	return MsgStat{
		ObjectStat: q.snapshot(),
		CBytes:     q.cbytes,
		QNum:       uint64(q.messages.len()),
		QBytes:     q.qbytes,
		LSPID:      q.lspid,
		LRPID:      q.lrpid,
		Stime:      q.stime,
		Rtime:      q.rtime,
		Ctime:      q.ctime,
	}
}
