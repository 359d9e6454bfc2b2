package fs

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// ctl runs a command written to the ctl file of a kernel namespace's
// table: the grammar of a model namespace's (docs/shm.md, msg.md,
// sem.md), each command one shmctl, msgctl, semctl or get, made by the
// kernel with the writer's credentials.
//
//	IPC_CREAT key=<key>|key=IPC_PRIVATE [mode=0NNN] [IPC_EXCL]
//	          shm: size=N [SHM_HUGETLB] [SHM_NORESERVE]; sem: nsems=N
//	IPC_RMID <object>
//	IPC_SET <object> [uid=N] [gid=N] [mode=0NNN] [qbytes=N (msg)]
//	SHM_LOCK <object> | SHM_UNLOCK <object>                (shm)
//	SETVAL <object> <semnum> <value> | SETALL <object> <value>...  (sem)
//	GETVAL|GETPID|GETNCNT|GETZCNT <object> <semnum> | GETALL <object>  (sem)
//
// The result is the object's id and name, or the value a GET* asked for.
func (d *kernelTable) ctl(mc *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	ns, err := d.k.namespace(d.id)
	if err != nil {
		return "", err
	}
	c := kcredOf(mc)
	if cmd.op == "IPC_CREAT" {
		return d.create(ns, c, cmd)
	}
	ref, err := cmd.object()
	if err != nil {
		return "", err
	}
	var run func(id int) (string, error)
	switch {
	case cmd.op == "IPC_RMID":
		run = func(id int) (string, error) { return "", rmid(ns, c, d.kind, id) }
	case cmd.op == "IPC_SET":
		a, err := cmd.setAttr(d.kind == kindMsg)
		if err != nil {
			return "", err
		}
		ka := kernelipc.SetAttr{UID: a.UID, GID: a.GID, Mode: a.Mode, QBytes: a.QBytes}
		run = func(id int) (string, error) { return "", setAttr(ns, c, d.kind, id, ka) }
	case d.kind == kindShm && (cmd.op == "SHM_LOCK" || cmd.op == "SHM_UNLOCK"):
		lock := cmd.op == "SHM_LOCK"
		run = func(id int) (string, error) { return "", ns.ShmLock(c, id, lock) }
	case d.kind == kindSem:
		if run, err = d.semctl(ns, c, cmd); err != nil {
			return "", err
		}
	default:
		return "", syscall.EINVAL
	}
	if err := cmd.done(); err != nil {
		return "", err
	}
	o, err := d.resolve(ns, c, ref)
	if err != nil {
		return "", err
	}
	res, err := run(o.id)
	if err != nil {
		return "", err
	}
	if res == "" {
		res = fmt.Sprintf("%d %s\n", o.id, o.name())
	}
	return res, nil
}

// resolve finds the object a command names: by id (which must be live in
// this table: EINVAL otherwise, as the *ctl calls say), or by key
// (ENOENT when no object has it, as a get without IPC_CREAT says).
func (d *kernelTable) resolve(ns *kernelipc.Namespace, c *kernelipc.Cred, ref nsmodel.Ref) (*kObj, error) {
	if ref.ByID {
		o, err := statAny(ns, d.kind, int(ref.ID))
		if err != nil {
			return nil, syscall.EINVAL
		}
		return &o, nil
	}
	objs, err := list(ns, c, d.kind)
	if err != nil {
		return nil, err
	}
	for i := range objs {
		if objs[i].key == ref.Key {
			return &objs[i], nil
		}
	}
	return nil, syscall.ENOENT
}

// semctl parses the semctl commands of sem/ctl.
func (d *kernelTable) semctl(ns *kernelipc.Namespace, c *kernelipc.Cred, cmd *ctlCmd) (func(id int) (string, error), error) {
	switch cmd.op {
	case "SETVAL":
		args, err := semArgs(cmd, 2)
		if err != nil {
			return nil, err
		}
		return func(id int) (string, error) {
			_, err := ns.SemCtl(c, id, args[0], kernelipc.SetVal, args[1])
			return "", err
		}, nil
	case "SETALL":
		args, err := semArgs(cmd, -1)
		if err != nil {
			return nil, err
		}
		vals, err := semValues(args)
		if err != nil {
			return nil, err
		}
		return func(id int) (string, error) { return "", ns.SemSetAll(c, id, vals) }, nil
	case "GETALL":
		if _, err := semArgs(cmd, 0); err != nil {
			return nil, err
		}
		return func(id int) (string, error) {
			vals, err := ns.SemGetAll(c, id)
			return formatValues(vals), err
		}, nil
	case "GETVAL", "GETPID", "GETNCNT", "GETZCNT":
		q := map[string]int{"GETVAL": kernelipc.GetVal, "GETPID": kernelipc.GetPid,
			"GETNCNT": kernelipc.GetNcnt, "GETZCNT": kernelipc.GetZcnt}[cmd.op]
		args, err := semArgs(cmd, 1)
		if err != nil {
			return nil, err
		}
		return func(id int) (string, error) {
			v, err := ns.SemCtl(c, id, args[0], q, 0)
			return strconv.Itoa(v) + "\n", err
		}, nil
	}
	return nil, syscall.EINVAL
}

// semValues checks SETALL's values as the kernel does (ERANGE past
// SEMVMX) before they are narrowed to unsigned short.
func semValues(args []int) ([]uint16, error) {
	vals := make([]uint16, len(args))
	for i, v := range args {
		if v < 0 || v > nsmodel.SemVMX {
			return nil, syscall.ERANGE
		}
		vals[i] = uint16(v)
	}
	return vals, nil
}

// formatValues is GETALL as a set's file reads: decimal, blank-separated.
func formatValues(vals []uint16) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(v)))
	}
	b.WriteByte('\n')
	return b.String()
}

// create is IPC_CREAT: shmget, msgget or semget with IPC_CREAT.
func (d *kernelTable) create(ns *kernelipc.Namespace, c *kernelipc.Cred, cmd *ctlCmd) (string, error) {
	key, err := cmd.key()
	if err != nil {
		return "", err
	}
	var size *uint64
	switch d.kind {
	case kindShm:
		size, err = cmd.uint("size", 10, 64)
	case kindSem:
		size, err = cmd.uint("nsems", 10, 31)
	}
	if err != nil || (d.kind != kindMsg && size == nil) {
		return "", syscall.EINVAL
	}
	mode, err := cmd.createMode()
	if err != nil {
		return "", err
	}
	flag := unix.IPC_CREAT | int(mode)
	if cmd.flag("IPC_EXCL") {
		flag |= unix.IPC_EXCL
	}
	if d.kind == kindShm {
		if cmd.flag("SHM_HUGETLB") {
			flag |= kernelipc.ShmHugeTLB
		}
		if cmd.flag("SHM_NORESERVE") {
			flag |= kernelipc.ShmNoReserve
		}
	}
	if err := cmd.done(); err != nil {
		return "", err
	}
	var id int
	switch d.kind {
	case kindShm:
		id, err = ns.ShmGet(c, key, *size, flag)
	case kindMsg:
		id, err = ns.MsgGet(c, key, flag)
	default:
		id, err = ns.SemGet(c, key, int(*size), flag)
	}
	if err != nil {
		return "", err
	}
	o := kObj{key: key, id: id}
	return fmt.Sprintf("%d %s\n", id, o.name()), nil
}
