package nsmodel

import (
	"context"
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"
)

// Flags of msgrcv and msgsnd (linux/ipc.h, linux/msg.h).
const (
	IPCNoWait  = 0o4000  // IPC_NOWAIT
	MsgNoError = 0o10000 // MSG_NOERROR: truncate rather than E2BIG
	MsgExcept  = 0o20000 // MSG_EXCEPT: the first message not of msgtyp
	MsgCopy    = 0o40000 // MSG_COPY: copy the message at index msgtyp
	MsgHdrSize = 8       // the mtype that leads struct msgbuf
)

// message is struct msg_msg. buf is the message as struct msgbuf lays it
// out, the native 64-bit mtype then mtext, so that a receive hands out
// the very bytes that the send brought in. A message is never changed
// once sent, so buf may be read without a lock.
type message struct {
	mtype int64
	buf   []byte
}

func (m *message) size() uint64 { return uint64(len(m.buf) - MsgHdrSize) }

// MsgType reads the mtype of a struct msgbuf.
func MsgType(buf []byte) int64 { return int64(binary.NativeEndian.Uint64(buf)) }

// PutMsgType writes the mtype of a struct msgbuf.
func PutMsgType(buf []byte, mtype int64) { binary.NativeEndian.PutUint64(buf, uint64(mtype)) }

// search is how a receive picks a message (ipc/msg.c SEARCH_*).
type search int

const (
	searchAny search = iota
	searchEqual
	searchNotEqual
	searchLessEqual
	searchNumber
)

// convertMode is convert_mode: msgtyp 0 takes the first message, > 0 the
// first of that type (or, with MSG_EXCEPT, of any other), < 0 the first
// of the lowest type up to -msgtyp; MSG_COPY counts msgtyp as an index.
func convertMode(msgtyp int64, flags int) (int64, search) {
	switch {
	case flags&MsgCopy != 0:
		return msgtyp, searchNumber
	case msgtyp == 0:
		return 0, searchAny
	case msgtyp < 0:
		if msgtyp == math.MinInt64 {
			return math.MaxInt64, searchLessEqual
		}
		return -msgtyp, searchLessEqual
	case flags&MsgExcept != 0:
		return msgtyp, searchNotEqual
	}
	return msgtyp, searchEqual
}

// test is testmsg.
func (m *message) test(typ int64, mode search) bool {
	switch mode {
	case searchLessEqual:
		return m.mtype <= typ
	case searchEqual:
		return m.mtype == typ
	case searchNotEqual:
		return m.mtype != typ
	}
	return true
}

// find is find_msg: the index of the message a receive takes, or -1.
// q.mu is held.
func (q *Msg) find(typ int64, mode search) int {
	found := -1
	for i, m := range q.messages.all() {
		if !m.test(typ, mode) {
			continue
		}
		switch mode {
		case searchLessEqual:
			// Keep looking for a lower type; type 1 cannot be beaten.
			if m.mtype == 1 {
				return i
			}
			typ, found = m.mtype-1, i
		case searchNumber:
			if int64(i) == typ {
				return i
			}
		default:
			return i
		}
	}
	return found
}

// msgReceiver is struct msg_receiver: a receive waiting for a message.
// Its fields are protected by the queue's mu.
type msgReceiver struct {
	typ     int64
	mode    search
	maxSize uint64 // r_maxsize: the buffer, or unbounded with MSG_NOERROR
	pid     int32
	wake    chan struct{}
	// done is set when a sender or a removal has decided the outcome:
	// msg, or err.
	done bool
	msg  *message
	err  error
}

// msgSender is struct msg_sender: a send waiting for room.
type msgSender struct {
	msg  *message
	pid  int32
	wake chan struct{}
	done bool
	err  error
}

// MsgRecv is the request of a msgrcv.
type MsgRecv struct {
	Type  int64 // msgtyp
	Flags int   // IPCNoWait, MsgNoError, MsgExcept, MsgCopy
	// BufSize is msgsz: the most mtext bytes the caller can take.
	BufSize int
}

// Send is msgsnd. buf is a struct msgbuf, which the queue keeps: the
// caller must not touch it again. A full queue blocks the caller until
// there is room, the queue is removed (EIDRM) or ctx is done (EINTR),
// unless flags has IPCNoWait (EAGAIN). pid is the sender, for lspid.
func (q *Msg) Send(ctx context.Context, pid int32, buf []byte, flags int) error {
	if len(buf) < MsgHdrSize {
		return unix.EINVAL
	}
	m := &message{mtype: MsgType(buf), buf: buf}
	if m.size() > uint64(q.table.ns.Limits().MsgMax) || m.mtype < 1 {
		return unix.EINVAL
	}
	q.mu.Lock()
	if q.removed {
		q.mu.Unlock()
		return unix.EIDRM
	}
	if q.fits(m.size()) {
		q.deliver(m, pid)
		q.mu.Unlock()
		return nil
	}
	if flags&IPCNoWait != 0 {
		q.mu.Unlock()
		return unix.EAGAIN
	}
	if err := q.table.ns.model.shutDown(); err != nil {
		q.mu.Unlock()
		return err
	}
	s := &msgSender{msg: m, pid: pid, wake: make(chan struct{}, 1)}
	e := q.senders.PushBack(s)
	q.mu.Unlock()

	select {
	case <-s.wake:
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !s.done {
		q.senders.Remove(e)
		return unix.EINTR
	}
	return s.err
}

// fits is msg_fits_inqueue. q.mu is held.
func (q *Msg) fits(size uint64) bool {
	return size+q.cbytes <= q.qbytes && uint64(q.messages.len())+1 <= q.qbytes
}

// deliver puts a message that fits into the queue, or straight into the
// hands of a waiting receiver (pipelined_send). q.mu is held.
func (q *Msg) deliver(m *message, pid int32) {
	q.lspid = pid
	q.stime = q.table.ns.model.Now()
	if q.pipelined(m) {
		q.logTimes()
		return
	}
	q.messages.push(m)
	q.cbytes += m.size()
	q.logAdd(m)
	q.pollSent(m)
}

// pipelined is pipelined_send: the first waiting receiver that wants m
// takes it. One whose buffer is too small is woken with E2BIG on the
// way, as the kernel does, and m goes on to the next. q.mu is held.
func (q *Msg) pipelined(m *message) bool {
	for e := q.receivers.Front(); e != nil; {
		r := e.Value.(*msgReceiver)
		next := e.Next()
		if m.test(r.typ, r.mode) {
			q.receivers.Remove(e)
			r.done = true
			if r.maxSize < m.size() {
				r.err = unix.E2BIG
				r.wake <- struct{}{}
				e = next
				continue
			}
			r.msg = m
			q.lrpid = r.pid
			q.rtime = q.table.ns.model.Now()
			r.wake <- struct{}{}
			return true
		}
		e = next
	}
	return false
}

// admitSenders is ss_wakeup without the race: each waiting sender whose
// message now fits is sent, in the order they blocked; one that still
// does not fit keeps its place and lets smaller ones by, as in the
// kernel. q.mu is held.
func (q *Msg) admitSenders() {
	for e := q.senders.Front(); e != nil; {
		s := e.Value.(*msgSender)
		next := e.Next()
		if q.fits(s.msg.size()) {
			q.senders.Remove(e)
			q.deliver(s.msg, s.pid)
			s.done = true
			s.wake <- struct{}{}
		}
		e = next
	}
	q.pollRoom()
}

// expunge wakes every waiter with err (expunge_all and ss_wakeup with
// kill). q.mu is held.
func (q *Msg) expunge(err error) {
	for e := q.receivers.Front(); e != nil; e = e.Next() {
		r := e.Value.(*msgReceiver)
		r.done, r.err = true, err
		r.wake <- struct{}{}
	}
	q.receivers.Init()
	for e := q.senders.Front(); e != nil; e = e.Next() {
		s := e.Value.(*msgSender)
		s.done, s.err = true, err
		s.wake <- struct{}{}
	}
	q.senders.Init()
	q.pollGone()
}

// Receive is msgrcv. It returns the message as struct msgbuf, cut to
// BufSize bytes of mtext under MsgNoError; the bytes are shared and must
// not be changed. An empty queue blocks the caller until a message
// comes, the queue is removed (EIDRM) or ctx is done (EINTR), unless
// IPCNoWait (ENOMSG). A message longer than BufSize is E2BIG and stays
// queued. MsgCopy copies the message at index Type and leaves it queued;
// it needs IPCNoWait. pid is the receiver, for lrpid.
func (q *Msg) Receive(ctx context.Context, pid int32, req MsgRecv) ([]byte, error) {
	if req.BufSize < 0 {
		return nil, unix.EINVAL
	}
	bufsz := uint64(req.BufSize)
	if req.Flags&MsgCopy != 0 && (req.Flags&MsgExcept != 0 || req.Flags&IPCNoWait == 0) {
		return nil, unix.EINVAL
	}
	typ, mode := convertMode(req.Type, req.Flags)

	q.mu.Lock()
	if q.removed {
		q.mu.Unlock()
		return nil, unix.EIDRM
	}
	if i := q.find(typ, mode); i >= 0 {
		m := q.messages.at(i)
		if m.size() > bufsz && req.Flags&MsgNoError == 0 {
			q.mu.Unlock()
			return nil, unix.E2BIG
		}
		if mode == searchNumber {
			q.mu.Unlock()
			// copy_msg refuses a message longer than its copy, which
			// prepare_copy made min(msgsz, msgmax) long.
			if m.size() > min(bufsz, uint64(q.table.ns.Limits().MsgMax)) {
				return nil, unix.EINVAL
			}
			return m.buf, nil
		}
		q.take(i, pid)
		q.mu.Unlock()
		return cut(m.buf, bufsz), nil
	}
	if req.Flags&IPCNoWait != 0 {
		q.mu.Unlock()
		return nil, unix.ENOMSG
	}
	if err := q.table.ns.model.shutDown(); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	r := &msgReceiver{typ: typ, mode: mode, maxSize: bufsz, pid: pid, wake: make(chan struct{}, 1)}
	if req.Flags&MsgNoError != 0 {
		r.maxSize = math.MaxUint64
	}
	e := q.receivers.PushBack(r)
	q.mu.Unlock()

	select {
	case <-r.wake:
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !r.done {
		q.receivers.Remove(e)
		return nil, unix.EINTR
	}
	if r.err != nil {
		return nil, r.err
	}
	return cut(r.msg.buf, bufsz), nil
}

// take unlinks message i as a receive does, and lets in the senders that
// its room makes fit. q.mu is held.
func (q *Msg) take(i int, pid int32) {
	m := q.messages.remove(i)
	q.cbytes -= m.size()
	q.lrpid = pid
	q.rtime = q.table.ns.model.Now()
	q.logTake(i)
	q.admitSenders()
}

// msgList is the messages of a queue, oldest first. Taking the oldest,
// the common case, moves nothing; the array is reused once drained.
type msgList struct {
	buf  []*message
	head int // buf[head:] are the messages
}

func (l *msgList) len() int          { return len(l.buf) - l.head }
func (l *msgList) at(i int) *message { return l.buf[l.head+i] }
func (l *msgList) all() []*message   { return l.buf[l.head:] }
func (l *msgList) reset()            { clear(l.buf); l.buf, l.head = l.buf[:0], 0 }

func (l *msgList) push(m *message) {
	if l.head > 0 && len(l.buf) == cap(l.buf) {
		n := copy(l.buf, l.buf[l.head:])
		clear(l.buf[n:])
		l.buf, l.head = l.buf[:n], 0
	}
	l.buf = append(l.buf, m)
}

func (l *msgList) remove(i int) *message {
	i += l.head
	m := l.buf[i]
	if i == l.head {
		l.buf[i] = nil
		l.head++
	} else {
		copy(l.buf[i:], l.buf[i+1:])
		l.buf[len(l.buf)-1] = nil
		l.buf = l.buf[:len(l.buf)-1]
	}
	if l.head == len(l.buf) {
		l.buf, l.head = l.buf[:0], 0
	}
	return m
}

// cut is what MSG_NOERROR does to a message longer than the buffer.
func cut(buf []byte, bufsz uint64) []byte {
	if uint64(len(buf)-MsgHdrSize) > bufsz {
		return buf[:MsgHdrSize+int(bufsz)]
	}
	return buf
}
