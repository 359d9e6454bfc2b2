package fs

import (
	"fmt"
	"syscall"

	"github.com/shmfs/shmfs/nsmodel"
)

// ctl runs a command written to shm/ctl:
//
//	IPC_RMID <object>
//	IPC_SET <object> [uid=N] [gid=N] [mode=0NNN]
//	SHM_LOCK <object> | SHM_UNLOCK <object>
//	IPC_CREAT key=<key>|key=IPC_PRIVATE size=N [mode=0NNN] [IPC_EXCL] [SHM_HUGETLB] [SHM_NORESERVE]
//
// The kernel saw none of it: the attributes it caches are dropped before
// the write returns, names from a goroutine that the handle's read and
// close wait for (cache.go).
func (d *shmDirNode) ctl(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	t := d.ns.Shm
	if cmd.op == "IPC_CREAT" {
		return d.create(c, cmd)
	}
	ref, err := cmd.object()
	if err != nil {
		return "", err
	}
	var run func(s *nsmodel.Shm) error
	switch cmd.op {
	case "IPC_RMID":
		run = func(s *nsmodel.Shm) error {
			// Whether it goes now or at its last detach depends on
			// nattch.
			d.m.settleSeg(s)
			if err := t.Remove(c, s); err != nil {
				return err
			}
			d.m.removed(s)
			return nil
		}
	case "IPC_SET":
		a, err := cmd.setAttr(false)
		if err != nil {
			return "", err
		}
		run = func(s *nsmodel.Shm) error { return t.Set(c, s, a) }
	case "SHM_LOCK", "SHM_UNLOCK":
		lock := cmd.op == "SHM_LOCK"
		run = func(s *nsmodel.Shm) error { return t.Lock(c, s, lock) }
	default:
		return "", refuse(syscall.EINVAL, "unknown command %s (shm/ctl takes IPC_CREAT, IPC_RMID, IPC_SET, SHM_LOCK, SHM_UNLOCK)", cmd.op)
	}
	if err := cmd.done(); err != nil {
		return "", err
	}
	s, err := t.Lookup(ref)
	if err != nil {
		return "", because(err, lookupReason(refName(ref)))
	}
	// The result names the object as it was named: IPC_RMID takes its
	// key away.
	st := t.Stat(s)
	if err := run(s); err != nil {
		return "", because(err, opReason(cmd.op, st.Name))
	}
	dropAttr(d.m.inval.nodes(t, st.Name)...)
	if cmd.op == "IPC_RMID" {
		d.m.inval.nameGone(t, st.Name, nil)
	}
	return fmt.Sprintf("%d %s\n", st.ID, st.Name), nil
}

func (d *shmDirNode) create(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	key, err := cmd.key()
	if err != nil {
		return "", err
	}
	size, err := cmd.uint("size", 10, 64)
	if err != nil {
		return "", err
	}
	if size == nil {
		return "", refuse(syscall.EINVAL, "size= is required")
	}
	mode, err := cmd.createMode()
	if err != nil {
		return "", err
	}
	req := nsmodel.ShmGet{Key: key, Size: *size, Mode: mode, Create: true}
	req.Access = req.Mode
	req.Excl = cmd.flag("IPC_EXCL")
	req.HugeTLB = cmd.flag("SHM_HUGETLB")
	cmd.flag("SHM_NORESERVE") // pages are never reserved: a memfd allocates on touch
	if err := cmd.done(); err != nil {
		return "", err
	}
	d.m.settleRemoved()
	s, err := d.ns.Shm.Get(c, req)
	if err != nil {
		if err == syscall.ENOSPC {
			d.m.createFailed()
		}
		return "", because(err, createReason("shm", key))
	}
	st := d.ns.Shm.Stat(s)
	d.m.inval.nameCame(d.ns.Shm, st.Name, nil)
	return fmt.Sprintf("%d %s\n", st.ID, st.Name), nil
}
