package nsmodel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// msgNS is a fresh namespace whose clock ticks once per reading, so that
// every time a queue records is distinct and ordered.
func msgNS(t *testing.T) *Namespace {
	t.Helper()
	m := NewModel(nil)
	var clock atomic.Int64
	clock.Store(1000)
	m.Now = func() int64 { return clock.Add(1) }
	return m.Get(DefaultNamespace)
}

func userCred(uid uint32) *Cred { return NewFixedCred(uid, uid, int32(uid)+10000, nil, 0) }

// msgbuf lays a message out as struct msgbuf.
func msgbuf(mtype int64, text string) []byte {
	b := make([]byte, MsgHdrSize+len(text))
	PutMsgType(b, mtype)
	copy(b[MsgHdrSize:], text)
	return b
}

func newQueue(t *testing.T, ns *Namespace, key int32, mode uint32) *Msg {
	t.Helper()
	q, err := ns.Msg.Get(RootCred(), MsgGet{Key: key, Mode: mode, Create: true})
	if err != nil {
		t.Fatalf("msgget(%#x): %v", key, err)
	}
	return q
}

func send(t *testing.T, q *Msg, mtype int64, text string) {
	t.Helper()
	if err := q.Send(context.Background(), 1, msgbuf(mtype, text), IPCNoWait); err != nil {
		t.Fatalf("msgsnd(%d, %q): %v", mtype, text, err)
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestMsgGet(t *testing.T) {
	ns := msgNS(t)
	owner := userCred(1000)
	other := userCred(2000)
	_, err := ns.Msg.Get(owner, MsgGet{Key: 0x10})
	wantErr(t, "msgget of a missing key", err, unix.ENOENT)

	q, err := ns.Msg.Get(owner, MsgGet{Key: 0x10, Mode: 0o640, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	st := ns.Msg.Stat(q)
	if st.UID != 1000 || st.CUID != 1000 || st.Mode != 0o640 || st.QBytes != uint64(ns.Limits().MsgMnb) || st.Key != 0x10 {
		t.Errorf("new queue: %+v", st)
	}
	if got, err := ns.Msg.Get(other, MsgGet{Key: 0x10}); err != nil || got != q {
		t.Errorf("msgget(key, 0) by a stranger: %v, %v", got, err)
	}
	_, err = ns.Msg.Get(other, MsgGet{Key: 0x10, Mode: 0o400})
	wantErr(t, "msgget asking read of mode 640 as a stranger", err, unix.EACCES)
	_, err = ns.Msg.Get(other, MsgGet{Key: 0x10, Mode: 0o002})
	wantErr(t, "msgget asking write of mode 640 as a stranger", err, unix.EACCES)
	_, err = ns.Msg.Get(owner, MsgGet{Key: 0x10, Create: true, Excl: true})
	wantErr(t, "IPC_CREAT|IPC_EXCL of an existing key", err, unix.EEXIST)
	_, err = ns.Msg.Open(other, MsgGet{Key: 0x10, Access: AccessRead})
	wantErr(t, "open for read by a stranger", err, unix.EACCES)
	member := NewFixedCred(2001, 1000, 2001, nil, 0)
	if _, err := ns.Msg.Open(member, MsgGet{Key: 0x10, Access: AccessRead}); err != nil {
		t.Errorf("open for read by the group: %v", err)
	}
	_, err = ns.Msg.Open(member, MsgGet{Key: 0x10, Access: AccessWrite})
	wantErr(t, "open for write by the group", err, unix.EACCES)

	// Private keys always make a new queue.
	p1, _ := ns.Msg.Get(owner, MsgGet{Key: IPCPrivate, Mode: 0o600})
	p2, _ := ns.Msg.Get(owner, MsgGet{Key: IPCPrivate, Mode: 0o600})
	if p1 == nil || p2 == nil || p1 == p2 {
		t.Errorf("IPC_PRIVATE: %p %p", p1, p2)
	}

	// msgmni counts every queue of the namespace.
	if err := ns.SetLimit(RootCred(), "msgmni", fmt.Sprint(ns.Msg.InUse())); err != nil {
		t.Fatal(err)
	}
	_, err = ns.Msg.Get(owner, MsgGet{Key: 0x11, Create: true})
	wantErr(t, "msgget past msgmni", err, unix.ENOSPC)
	if _, err := ns.Msg.Lookup(Ref{Key: 0x11}); err == nil {
		t.Error("a refused msgget left a queue behind")
	}
}

func TestMsgOpenChecksAccessMode(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x20, 0o602)
	stranger := userCred(3000)
	if err := ns.Msg.Access(stranger, q, AccessWrite); err != nil {
		t.Errorf("write of a 602 queue by a stranger: %v", err)
	}
	wantErr(t, "read of a 602 queue by a stranger", ns.Msg.Access(stranger, q, AccessRead), unix.EACCES)
	root := RootCred()
	if err := ns.Msg.Access(root, q, AccessRead|AccessWrite); err != nil {
		t.Errorf("root (CAP_IPC_OWNER): %v", err)
	}
}

func TestMsgSendRefusesBadMessages(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x30, 0o600)
	max := ns.Limits().MsgMax
	for _, c := range []struct {
		name string
		buf  []byte
	}{
		{"shorter than mtype", []byte{1, 0, 0}},
		{"mtype 0", msgbuf(0, "x")},
		{"negative mtype", msgbuf(-5, "x")},
		{"mtext over msgmax", msgbuf(1, strings.Repeat("x", max+1))},
	} {
		wantErr(t, c.name, q.Send(context.Background(), 1, c.buf, 0), unix.EINVAL)
	}
	if st := ns.Msg.Stat(q); st.QNum != 0 || st.CBytes != 0 || st.Stime != 0 || st.LSPID != 0 {
		t.Errorf("refused sends changed the queue: %+v", st)
	}
	// Exactly msgmax is fine, and an empty mtext too.
	send(t, q, 1, strings.Repeat("y", max))
	send(t, q, 2, "")
	if st := ns.Msg.Stat(q); st.QNum != 2 || st.CBytes != uint64(max) || st.LSPID != 1 {
		t.Errorf("after two sends: %+v", st)
	}
}

// recvOp is one msgrcv of a selection test and what it must give:
// mtext, or an error.
type recvOp struct {
	typ   int64
	flags int
	size  int
	text  string
	mtype int64
	err   error
}

func TestMsgReceiveSelection(t *testing.T) {
	// Each case starts from the same queue, oldest first.
	queued := []struct {
		mtype int64
		text  string
	}{{3, "a3"}, {1, "b1"}, {2, "c2"}, {1, "d1"}, {5, "e5"}, {2, "f2"}}
	cases := []struct {
		name string
		ops  []recvOp
	}{
		{"msgtyp 0 is FIFO", []recvOp{
			{typ: 0, text: "a3", mtype: 3}, {typ: 0, text: "b1", mtype: 1}, {typ: 0, text: "c2", mtype: 2},
		}},
		{"msgtyp > 0 is the first of that type", []recvOp{
			{typ: 2, text: "c2", mtype: 2}, {typ: 2, text: "f2", mtype: 2},
			{typ: 2, flags: IPCNoWait, err: unix.ENOMSG},
			{typ: 4, flags: IPCNoWait, err: unix.ENOMSG},
		}},
		{"msgtyp < 0 is the first of the lowest type up to -msgtyp", []recvOp{
			{typ: -5, text: "b1", mtype: 1}, {typ: -5, text: "d1", mtype: 1},
			{typ: -5, text: "c2", mtype: 2}, {typ: -2, text: "f2", mtype: 2},
			{typ: -2, flags: IPCNoWait, err: unix.ENOMSG},
			{typ: -4, text: "a3", mtype: 3},
		}},
		{"MSG_EXCEPT is the first of any other type", []recvOp{
			{typ: 3, flags: MsgExcept, text: "b1", mtype: 1},
			{typ: 1, flags: MsgExcept, text: "a3", mtype: 3},
			{typ: 1, flags: MsgExcept, text: "c2", mtype: 2},
		}},
		{"MSG_EXCEPT means nothing with msgtyp 0 or < 0", []recvOp{
			{typ: 0, flags: MsgExcept, text: "a3", mtype: 3},
			{typ: -2, flags: MsgExcept, text: "b1", mtype: 1},
		}},
		{"a small buffer is E2BIG and leaves the message", []recvOp{
			{typ: 0, size: 1, err: unix.E2BIG},
			{typ: 0, size: 2, text: "a3", mtype: 3},
		}},
		{"MSG_NOERROR cuts the message and takes it", []recvOp{
			{typ: 0, size: 1, flags: MsgNoError, text: "a", mtype: 3},
			{typ: 0, size: 0, flags: MsgNoError, text: "", mtype: 1},
			{typ: 0, text: "c2", mtype: 2},
		}},
		{"MSG_COPY copies by index and takes nothing", []recvOp{
			{typ: 4, flags: MsgCopy | IPCNoWait, text: "e5", mtype: 5},
			{typ: 0, flags: MsgCopy | IPCNoWait, text: "a3", mtype: 3},
			{typ: 6, flags: MsgCopy | IPCNoWait, err: unix.ENOMSG},
			{typ: -1, flags: MsgCopy | IPCNoWait, err: unix.ENOMSG},
			{typ: 0, text: "a3", mtype: 3},
			{typ: 0, flags: MsgCopy | IPCNoWait, text: "b1", mtype: 1},
		}},
		{"MSG_COPY needs IPC_NOWAIT and refuses MSG_EXCEPT", []recvOp{
			{typ: 0, flags: MsgCopy, err: unix.EINVAL},
			{typ: 0, flags: MsgCopy | IPCNoWait | MsgExcept, err: unix.EINVAL},
			{typ: 0, size: 1, flags: MsgCopy | IPCNoWait, err: unix.E2BIG},
			// copy_msg: the copy is only min(msgsz, msgmax) long.
			{typ: 0, size: 1, flags: MsgCopy | IPCNoWait | MsgNoError, err: unix.EINVAL},
			{typ: 0, text: "a3", mtype: 3},
		}},
		{"a negative buffer size", []recvOp{
			{typ: 0, size: -1, err: unix.EINVAL},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := msgNS(t)
			q := newQueue(t, ns, 0x40, 0o600)
			for _, m := range queued {
				send(t, q, m.mtype, m.text)
			}
			for i, op := range c.ops {
				size := op.size
				if size == 0 && op.flags&MsgNoError == 0 {
					size = 100
				}
				before := ns.Msg.Stat(q)
				got, err := q.Receive(context.Background(), 7, MsgRecv{Type: op.typ, Flags: op.flags, BufSize: size})
				after := ns.Msg.Stat(q)
				if op.err != nil {
					wantErr(t, fmt.Sprintf("op %d %+v", i, op), err, op.err)
					if before.QNum != after.QNum || before.CBytes != after.CBytes || before.Rtime != after.Rtime {
						t.Errorf("op %d: a refused receive changed the queue: %+v -> %+v", i, before, after)
					}
					continue
				}
				if err != nil {
					t.Fatalf("op %d %+v: %v", i, op, err)
				}
				if MsgType(got) != op.mtype || string(got[MsgHdrSize:]) != op.text {
					t.Errorf("op %d %+v: got type %d %q", i, op, MsgType(got), got[MsgHdrSize:])
				}
				taken := op.flags&MsgCopy == 0
				if taken && (after.QNum != before.QNum-1 || after.LRPID != 7 || after.Rtime <= before.Rtime) {
					t.Errorf("op %d: receive did not account: %+v -> %+v", i, before, after)
				}
				if !taken && (after.QNum != before.QNum || after.CBytes != before.CBytes || after.Rtime != before.Rtime) {
					t.Errorf("op %d: MSG_COPY changed the queue: %+v -> %+v", i, before, after)
				}
			}
		})
	}
}

func TestMsgQbytesAccounting(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x50, 0o600)
	half := strings.Repeat("h", ns.Limits().MsgMnb/2)
	send(t, q, 1, half)
	send(t, q, 1, half)
	wantErr(t, "send to a full queue, IPC_NOWAIT", q.Send(context.Background(), 1, msgbuf(1, "x"), IPCNoWait), unix.EAGAIN)
	if st := ns.Msg.Stat(q); st.CBytes != uint64(2*len(half)) || st.QNum != 2 {
		t.Errorf("cbytes/qnum: %+v", st)
	}
	if _, err := q.Receive(context.Background(), 1, MsgRecv{BufSize: len(half)}); err != nil {
		t.Fatal(err)
	}
	if st := ns.Msg.Stat(q); st.CBytes != uint64(len(half)) || st.QNum != 1 {
		t.Errorf("after a receive: %+v", st)
	}

	// An empty message still fits a queue full of bytes.
	send(t, q, 1, half)
	send(t, q, 1, "")
	if st := ns.Msg.Stat(q); st.CBytes != uint64(2*len(half)) || st.QNum != 3 {
		t.Errorf("cbytes/qnum: %+v", st)
	}
	for ns.Msg.Stat(q).QNum > 0 {
		if _, err := q.Receive(context.Background(), 1, MsgRecv{BufSize: len(half)}); err != nil {
			t.Fatal(err)
		}
	}

	// qnum counts against qbytes too: with qbytes 3, three empty messages
	// fill the queue.
	three := uint64(3)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &three}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		send(t, q, 1, "")
	}
	wantErr(t, "fourth message with qbytes 3", q.Send(context.Background(), 1, msgbuf(1, ""), IPCNoWait), unix.EAGAIN)
	wantErr(t, "4 bytes with qbytes 3", q.Send(context.Background(), 1, msgbuf(1, "four"), IPCNoWait), unix.EAGAIN)
}

func TestMsgSet(t *testing.T) {
	ns := msgNS(t)
	owner := userCred(1000)
	q, err := ns.Msg.Get(owner, MsgGet{Key: 0x60, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	mnb := uint64(ns.Limits().MsgMnb)
	up, down := mnb+1, mnb/2
	before := ns.Msg.Stat(q)
	wantErr(t, "qbytes over msgmnb by the owner", ns.Msg.Set(owner, q, SetAttr{QBytes: &up}), unix.EPERM)
	mode := uint32(0o644)
	wantErr(t, "IPC_SET by a stranger", ns.Msg.Set(userCred(2000), q, SetAttr{Mode: &mode}), unix.EPERM)
	bad := ^uint32(0)
	wantErr(t, "uid -1", ns.Msg.Set(owner, q, SetAttr{UID: &bad}), unix.EINVAL)
	if after := ns.Msg.Stat(q); after != before {
		t.Errorf("refused IPC_SETs changed the queue: %+v -> %+v", before, after)
	}
	if err := ns.Msg.Set(owner, q, SetAttr{QBytes: &down, Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &up}); err != nil {
		t.Errorf("qbytes over msgmnb with CAP_SYS_RESOURCE: %v", err)
	}
	st := ns.Msg.Stat(q)
	if st.QBytes != up || st.Mode != 0o644 || st.Ctime <= before.Ctime {
		t.Errorf("after IPC_SET: %+v", st)
	}
	// The owner may not even keep a qbytes above msgmnb, as the kernel
	// checks the new value, not the change.
	wantErr(t, "qbytes kept over msgmnb by the owner", ns.Msg.Set(owner, q, SetAttr{QBytes: &up}), unix.EPERM)
	// The creator keeps IPC_SET rights after giving the queue away.
	uid := uint32(2000)
	if err := ns.Msg.Set(owner, q, SetAttr{UID: &uid}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Msg.Set(owner, q, SetAttr{Mode: &mode}); err != nil {
		t.Errorf("IPC_SET by the creator: %v", err)
	}
}

func TestMsgRemove(t *testing.T) {
	ns := msgNS(t)
	owner := userCred(1000)
	q, _ := ns.Msg.Get(owner, MsgGet{Key: 0x70, Mode: 0o666, Create: true})
	send(t, q, 1, "left behind")
	wantErr(t, "IPC_RMID by a stranger", ns.Msg.Remove(userCred(2000), q), unix.EPERM)
	if err := ns.Msg.Remove(owner, q); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "IPC_RMID twice", ns.Msg.Remove(owner, q), unix.EIDRM)
	wantErr(t, "send after IPC_RMID", q.Send(context.Background(), 1, msgbuf(1, "x"), 0), unix.EIDRM)
	_, err := q.Receive(context.Background(), 1, MsgRecv{BufSize: 100})
	wantErr(t, "receive after IPC_RMID", err, unix.EIDRM)
	_, err = ns.Msg.Lookup(Ref{Key: 0x70})
	wantErr(t, "lookup after IPC_RMID", err, unix.ENOENT)
	if ns.Msg.InUse() != 0 {
		t.Error("the queue is still in the table")
	}
	// The key is free again.
	if q2, err := ns.Msg.Get(owner, MsgGet{Key: 0x70, Create: true, Excl: true}); err != nil || q2 == q {
		t.Errorf("msgget after IPC_RMID: %v", err)
	}
}

func TestMsgSysvipc(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, -2, 0o640)
	send(t, q, 1, "12345")
	lines := strings.Split(ns.Msg.SysvipcMsg(), "\n")
	if lines[0]+"\n" != msgHeader || len(lines) != 3 || lines[2] != "" {
		t.Fatalf("table: %q", lines)
	}
	st := ns.Msg.Stat(q)
	want := fmt.Sprintf("%10d %10d  %4o  %10d %10d %5d %5d %5d %5d %5d %5d %10d %10d %10d",
		-2, st.ID, 0o640, 5, 1, 1, 0, 0, 0, 0, 0, st.Stime, 0, st.Ctime)
	if lines[1] != want {
		t.Errorf("row:\n got %q\nwant %q", lines[1], want)
	}
}

// waiting is a sync point: it returns once n callers are blocked in q,
// receivers or senders.
func waiting(t *testing.T, q *Msg, receivers bool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		got := q.senders.Len()
		if receivers {
			got = q.receivers.Len()
		}
		q.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocked, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type recvResult struct {
	who int
	buf []byte
	err error
}

// blockReceiver starts a receive that must block, and returns once it
// has.
func blockReceiver(t *testing.T, ctx context.Context, q *Msg, who int, req MsgRecv, out chan<- recvResult) {
	t.Helper()
	q.mu.Lock()
	n := q.receivers.Len()
	q.mu.Unlock()
	go func() {
		b, err := q.Receive(ctx, int32(who), req)
		out <- recvResult{who, b, err}
	}()
	waiting(t, q, true, n+1)
}

func blockSender(t *testing.T, ctx context.Context, q *Msg, who int, buf []byte, out chan<- recvResult) {
	t.Helper()
	q.mu.Lock()
	n := q.senders.Len()
	q.mu.Unlock()
	go func() {
		err := q.Send(ctx, int32(who), buf, 0)
		out <- recvResult{who: who, err: err}
	}()
	waiting(t, q, false, n+1)
}

func TestMsgReceiversServedInOrder(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x80, 0o600)
	out := make(chan recvResult)
	for who := 1; who <= 3; who++ {
		blockReceiver(t, context.Background(), q, who, MsgRecv{BufSize: 100}, out)
	}
	for i := 1; i <= 3; i++ {
		send(t, q, 1, fmt.Sprint(i))
		r := <-out
		if r.err != nil || string(r.buf[MsgHdrSize:]) != fmt.Sprint(r.who) || r.who != i {
			t.Errorf("message %d went to receiver %d: %q %v", i, r.who, r.buf, r.err)
		}
	}
	if st := ns.Msg.Stat(q); st.QNum != 0 || st.LRPID != 3 {
		t.Errorf("handed-off messages: %+v", st)
	}
}

func TestMsgBlockedReceiverSelection(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x81, 0o600)
	out := make(chan recvResult, 4)
	// 1 waits for type 2, 2 for anything but 3, 3 for a type up to 4 with
	// a 2-byte buffer, 4 for anything.
	blockReceiver(t, context.Background(), q, 1, MsgRecv{Type: 2, BufSize: 100}, out)
	blockReceiver(t, context.Background(), q, 2, MsgRecv{Type: 3, Flags: MsgExcept, BufSize: 100}, out)
	blockReceiver(t, context.Background(), q, 3, MsgRecv{Type: -4, BufSize: 2}, out)
	blockReceiver(t, context.Background(), q, 4, MsgRecv{BufSize: 100}, out)

	send(t, q, 3, "long") // not for 1 or 2; too long for 3, who gets E2BIG; 4 takes it
	got := map[int]recvResult{}
	for i := 0; i < 2; i++ {
		r := <-out
		got[r.who] = r
	}
	if r := got[3]; !errors.Is(r.err, unix.E2BIG) {
		t.Errorf("receiver 3: %q %v, want E2BIG", r.buf, r.err)
	}
	if r := got[4]; r.err != nil || string(r.buf[MsgHdrSize:]) != "long" {
		t.Errorf("receiver 4: %q %v", r.buf, r.err)
	}
	send(t, q, 1, "one") // 2 takes it (not type 3), 1 still waits
	if r := <-out; r.who != 2 || string(r.buf[MsgHdrSize:]) != "one" {
		t.Errorf("type 1 went to %d: %q %v", r.who, r.buf, r.err)
	}
	send(t, q, 2, "two")
	if r := <-out; r.who != 1 || string(r.buf[MsgHdrSize:]) != "two" {
		t.Errorf("type 2 went to %d: %q %v", r.who, r.buf, r.err)
	}
	if st := ns.Msg.Stat(q); st.QNum != 0 {
		t.Errorf("queue: %+v", st)
	}
}

func TestMsgSendersServedInOrder(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x82, 0o600)
	ten := uint64(10)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &ten}); err != nil {
		t.Fatal(err)
	}
	send(t, q, 1, "0123456789")
	out := make(chan recvResult, 4)
	blockSender(t, context.Background(), q, 1, msgbuf(1, "aaaa"), out)
	blockSender(t, context.Background(), q, 2, msgbuf(1, "bbbbbbbbbb"), out) // needs the whole queue
	blockSender(t, context.Background(), q, 3, msgbuf(1, "cccc"), out)
	blockSender(t, context.Background(), q, 4, msgbuf(1, "dd"), out)

	// Emptying the queue makes room for 1 and 3 (8 bytes) and 4 (10): 2
	// keeps its place and lets the smaller ones by, as in the kernel.
	recvText(t, q, "0123456789")
	done := map[int]bool{}
	for i := 0; i < 3; i++ {
		r := <-out
		if r.err != nil {
			t.Errorf("sender %d: %v", r.who, r.err)
		}
		done[r.who] = true
	}
	if !done[1] || !done[3] || !done[4] {
		t.Errorf("admitted %v, want 1, 3 and 4", done)
	}
	recvText(t, q, "aaaa")
	recvText(t, q, "cccc")
	recvText(t, q, "dd")
	if r := <-out; r.who != 2 || r.err != nil {
		t.Errorf("sender %d: %v", r.who, r.err)
	}
	recvText(t, q, "bbbbbbbbbb")
}

func recvText(t *testing.T, q *Msg, want string) {
	t.Helper()
	b, err := q.Receive(context.Background(), 1, MsgRecv{BufSize: 100, Flags: IPCNoWait})
	if err != nil || string(b[MsgHdrSize:]) != want {
		t.Fatalf("receive: %q %v, want %q", b, err, want)
	}
}

func TestMsgRaisingQbytesAdmitsSenders(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x83, 0o600)
	zero := uint64(0)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &zero}); err != nil {
		t.Fatal(err)
	}
	out := make(chan recvResult, 1)
	blockSender(t, context.Background(), q, 1, msgbuf(9, "x"), out)
	mnb := uint64(ns.Limits().MsgMnb)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &mnb}); err != nil {
		t.Fatal(err)
	}
	if r := <-out; r.err != nil {
		t.Fatal(r.err)
	}
	recvText(t, q, "x")
}

func TestMsgRemovalWakesEveryone(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x84, 0o600)
	out := make(chan recvResult, 4)
	blockReceiver(t, context.Background(), q, 1, MsgRecv{Type: 7, BufSize: 100}, out)
	blockReceiver(t, context.Background(), q, 2, MsgRecv{Type: 8, BufSize: 100}, out)
	zero := uint64(0)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &zero}); err != nil {
		t.Fatal(err)
	}
	blockSender(t, context.Background(), q, 3, msgbuf(1, "x"), out)
	blockSender(t, context.Background(), q, 4, msgbuf(1, "y"), out)
	if err := ns.Msg.Remove(RootCred(), q); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		r := <-out
		wantErr(t, fmt.Sprintf("waiter %d", r.who), r.err, unix.EIDRM)
	}
}

func TestMsgInterruptLosesNothing(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x85, 0o600)
	out := make(chan recvResult, 2)

	ctx, cancel := context.WithCancel(context.Background())
	blockReceiver(t, ctx, q, 1, MsgRecv{BufSize: 100}, out)
	cancel()
	wantErr(t, "interrupted receive", (<-out).err, unix.EINTR)
	send(t, q, 1, "kept")
	recvText(t, q, "kept")

	zero := uint64(0)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &zero}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	blockSender(t, ctx, q, 2, msgbuf(1, "dropped"), out)
	cancel()
	wantErr(t, "interrupted send", (<-out).err, unix.EINTR)
	mnb := uint64(ns.Limits().MsgMnb)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &mnb}); err != nil {
		t.Fatal(err)
	}
	if st := ns.Msg.Stat(q); st.QNum != 0 {
		t.Errorf("an interrupted send left its message: %+v", st)
	}
}

// TestMsgInterruptRace interrupts receivers while messages arrive, so
// that some interrupts cross a hand-off: every message must end up
// received exactly once or still queued.
func TestMsgInterruptRace(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x86, 0o600)
	const rounds = 300
	received, interrupted := 0, 0
	for i := 0; i < rounds; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan recvResult, 1)
		blockReceiver(t, ctx, q, 1, MsgRecv{BufSize: 100}, out)
		sent := make(chan error, 1)
		go cancel()
		go func() { sent <- q.Send(context.Background(), 1, msgbuf(1, fmt.Sprint(i)), IPCNoWait) }()
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		r := <-out
		switch {
		case r.err == nil:
			if string(r.buf[MsgHdrSize:]) != fmt.Sprint(i) {
				t.Fatalf("round %d received %q", i, r.buf)
			}
			received++
		case errors.Is(r.err, unix.EINTR):
			recvText(t, q, fmt.Sprint(i))
			interrupted++
		default:
			t.Fatal(r.err)
		}
	}
	t.Logf("%d received, %d interrupted", received, interrupted)
	if st := ns.Msg.Stat(q); st.QNum != 0 || received+interrupted != rounds {
		t.Errorf("%d received, %d interrupted, queue %+v", received, interrupted, st)
	}
}

// TestMsgManySendersAndReceivers checks that every message is delivered
// exactly once under contention, through a queue small enough that both
// sides block.
func TestMsgManySendersAndReceivers(t *testing.T) {
	ns := msgNS(t)
	q := newQueue(t, ns, 0x87, 0o600)
	small := uint64(64)
	if err := ns.Msg.Set(RootCred(), q, SetAttr{QBytes: &small}); err != nil {
		t.Fatal(err)
	}
	const senders, receivers, each = 4, 4, 500
	errs := make(chan error, senders+receivers)
	for s := 0; s < senders; s++ {
		go func() {
			for i := 0; i < each; i++ {
				v := s*each + i
				if err := q.Send(context.Background(), int32(s), msgbuf(int64(1+v%3), fmt.Sprintf("%06d", v)), 0); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	seen := make([]atomic.Int32, senders*each)
	var sum atomic.Int64
	for r := 0; r < receivers; r++ {
		go func() {
			for i := 0; i < senders*each/receivers; i++ {
				// Receivers pick in different ways; all of them together
				// take everything.
				req := MsgRecv{BufSize: 6}
				if r%2 == 1 {
					req.Type = -3
				}
				b, err := q.Receive(context.Background(), int32(100+r), req)
				if err != nil {
					errs <- err
					return
				}
				var v int
				fmt.Sscanf(string(b[MsgHdrSize:]), "%d", &v)
				seen[v].Add(1)
				sum.Add(int64(v))
			}
			errs <- nil
		}()
	}
	for i := 0; i < senders+receivers; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("stuck")
		}
	}
	n := senders * each
	for v := range seen {
		if c := seen[v].Load(); c != 1 {
			t.Errorf("message %d received %d times", v, c)
		}
	}
	if sum.Load() != int64(n*(n-1)/2) {
		t.Errorf("checksum %d, want %d", sum.Load(), n*(n-1)/2)
	}
}
