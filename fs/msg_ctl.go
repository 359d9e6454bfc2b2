package fs

import (
	"fmt"
	"syscall"

	"github.com/shmfs/shmfs/nsmodel"
)

// ctl runs a command written to msg/ctl:
//
//	IPC_RMID <object>
//	IPC_SET <object> [uid=N] [gid=N] [mode=0NNN] [qbytes=N]
//	IPC_CREAT key=<key>|key=IPC_PRIVATE [mode=0NNN] [IPC_EXCL]
//
// The result line is the queue's id and name.
func (d *msgDirNode) ctl(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	t := d.ns.Msg
	if cmd.op == "IPC_CREAT" {
		return d.create(c, cmd)
	}
	ref, err := cmd.object()
	if err != nil {
		return "", err
	}
	var run func(q *nsmodel.Msg) error
	switch cmd.op {
	case "IPC_RMID":
		run = func(q *nsmodel.Msg) error { return t.Remove(c, q) }
	case "IPC_SET":
		a, err := cmd.setAttr(true)
		if err != nil {
			return "", err
		}
		run = func(q *nsmodel.Msg) error { return t.Set(c, q, a) }
	default:
		return "", refuse(syscall.EINVAL, "unknown command %s (msg/ctl takes IPC_CREAT, IPC_RMID, IPC_SET)", cmd.op)
	}
	if err := cmd.done(); err != nil {
		return "", err
	}
	q, err := t.Lookup(ref)
	if err != nil {
		return "", because(err, lookupReason(refName(ref)))
	}
	st := t.Stat(q)
	if err := run(q); err != nil {
		return "", because(err, opReason(cmd.op, st.Name))
	}
	// The kernel saw none of it: the attributes of the queue's inodes
	// go before the write returns.
	d.m.queues.changed(q)
	return fmt.Sprintf("%d %s\n", st.ID, st.Name), nil
}

// create is msgget(key, IPC_CREAT|mode[|IPC_EXCL]); the mode defaults to
// 0600, as on shm/ctl.
func (d *msgDirNode) create(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	key, err := cmd.key()
	if err != nil {
		return "", err
	}
	mode, err := cmd.createMode()
	if err != nil {
		return "", err
	}
	req := nsmodel.MsgGet{Key: key, Mode: mode, Create: true}
	req.Excl = cmd.flag("IPC_EXCL")
	if err := cmd.done(); err != nil {
		return "", err
	}
	q, err := d.ns.Msg.Get(c, req)
	if err != nil {
		return "", because(err, createReason("msg", key))
	}
	st := d.ns.Msg.Stat(q)
	d.m.inval.nameCame(d.ns.Msg, st.Name, nil)
	return fmt.Sprintf("%d %s\n", st.ID, st.Name), nil
}
