package kernelipc

import (
	"context"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// msgrcv and msgctl flags and commands (include/uapi/linux/msg.h).
const (
	MsgNoerror    = 0o10000
	MsgExcept     = 0o20000
	MsgCopy       = 0o40000
	cmdMsgStatAny = 13
)

// MsgDS is struct msqid64_ds on 64-bit Linux.
type MsgDS struct {
	Perm   unix.SysvIpcPerm
	Stime  int64
	Rtime  int64
	Ctime  int64
	Cbytes uint64
	Qnum   uint64
	Qbytes uint64
	Lspid  int32
	Lrpid  int32
	_      [2]uint64
}

func msgctl(id, cmd int, ds *MsgDS) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_MSGCTL, uintptr(id), uintptr(cmd), uintptr(unsafe.Pointer(ds)))
	return int(r), errnoErr(e)
}

// MsgGet is msgget(key, flag).
func (ns *Namespace) MsgGet(c *Cred, key int32, flag int) (int, error) {
	var id int
	err := ns.call(c, func() error {
		r, _, e := unix.RawSyscall(unix.SYS_MSGGET, uintptr(key), uintptr(flag), 0)
		id = int(r)
		return errnoErr(e)
	})
	return id, err
}

// MsgSnd is msgsnd of one message. Without IPC_NOWAIT in flag it may
// block until the queue has room; the end of ctx interrupts it (EINTR).
func (ns *Namespace) MsgSnd(ctx context.Context, c *Cred, id int, mtype int64, text []byte, flag int) error {
	buf := make([]byte, 8+len(text))
	binary.NativeEndian.PutUint64(buf, uint64(mtype))
	copy(buf[8:], text)
	op := func(nowait bool) error {
		f := flag
		if nowait {
			f |= unix.IPC_NOWAIT
		}
		_, _, e := unix.Syscall6(unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(text)), uintptr(f), 0, 0)
		return errnoErr(e)
	}
	if flag&unix.IPC_NOWAIT != 0 {
		return ns.call(c, func() error { return op(true) })
	}
	return ns.block(ctx, c, zeroTime, op)
}

// MsgRcv is msgrcv(id, size, msgtyp, flag): the message's type and text.
// Without IPC_NOWAIT in flag it may block until a message comes; the end
// of ctx interrupts it (EINTR). With MSG_COPY (which the kernel wants
// with IPC_NOWAIT) msgtyp is the position of the message to copy, and
// the queue is left as it was.
func (ns *Namespace) MsgRcv(ctx context.Context, c *Cred, id int, size int, msgtyp int64, flag int) (int64, []byte, error) {
	if size < 0 {
		return 0, nil, unix.EINVAL
	}
	buf := make([]byte, 8+size)
	var n int
	op := func(nowait bool) error {
		f := flag
		if nowait {
			f |= unix.IPC_NOWAIT
		}
		r, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(size), uintptr(msgtyp), uintptr(f), 0)
		n = int(r)
		return errnoErr(e)
	}
	var err error
	if flag&unix.IPC_NOWAIT != 0 {
		err = ns.call(c, func() error { return op(true) })
	} else {
		err = ns.block(ctx, c, zeroTime, op)
	}
	if err != nil {
		return 0, nil, err
	}
	return int64(binary.NativeEndian.Uint64(buf)), buf[8 : 8+n], nil
}

// MsgCopy is the message at position index (from 0) of the queue,
// copied and left in place: msgrcv(MSG_COPY|IPC_NOWAIT). ENOMSG past the
// last message; E2BIG when it is longer than size.
func (ns *Namespace) MsgCopy(c *Cred, id int, index int64, size int) (int64, []byte, error) {
	return ns.MsgRcv(nil, c, id, size, index, MsgCopy|unix.IPC_NOWAIT)
}

// MsgStat is msgctl(IPC_STAT) with the caller's credentials.
func (ns *Namespace) MsgStat(c *Cred, id int) (MsgDS, error) {
	var ds MsgDS
	err := ns.call(c, func() error { _, err := msgctl(id, unix.IPC_STAT, &ds); return err })
	return ds, err
}

func msgStatAny(id int) (MsgDS, error) {
	var ds MsgDS
	if id < 0 {
		return ds, unix.EINVAL
	}
	got, err := msgctl(id&idxMask, cmdMsgStatAny, &ds)
	if err != nil {
		return ds, err
	}
	if got != id {
		return ds, unix.EINVAL
	}
	return ds, nil
}

// MsgStatAny is the state of queue id whoever asks (MSG_STAT_ANY).
func (ns *Namespace) MsgStatAny(id int) (MsgDS, error) {
	var ds MsgDS
	err := ns.call(serverCred(), func() (err error) { ds, err = msgStatAny(id); return })
	return ds, err
}

// MsgSet is msgctl(IPC_SET) with the caller's credentials; fields not
// given keep the queue's values.
func (ns *Namespace) MsgSet(c *Cred, id int, a SetAttr) error {
	return ns.call(c, func() error {
		ds, err := msgStatAny(id)
		if err != nil {
			return err
		}
		a.apply(&ds.Perm)
		if a.QBytes != nil {
			ds.Qbytes = *a.QBytes
		}
		_, err = msgctl(id, unix.IPC_SET, &ds)
		return err
	})
}

// MsgRmid is msgctl(IPC_RMID) with the caller's credentials.
func (ns *Namespace) MsgRmid(c *Cred, id int) error {
	return ns.call(c, func() error { _, err := msgctl(id, unix.IPC_RMID, nil); return err })
}
