package fs

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"syscall"

	"github.com/shmfs/shmfs/nsmodel"
)

// ctl runs a command written to sem/ctl:
//
//	IPC_CREAT key=<key>|key=IPC_PRIVATE nsems=N [mode=0NNN] [IPC_EXCL]
//	IPC_RMID <object>
//	IPC_SET <object> [uid=N] [gid=N] [mode=0NNN]
//	SETVAL <object> <semnum> <value>
//	SETALL <object> <value>...
//	GETVAL|GETPID|GETNCNT|GETZCNT <object> <semnum>
//	GETALL <object>
//
// GET* leave their answer to be read back; the others the set's id and
// name.
func (d *semDirNode) ctl(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	t := d.ns.Sem
	if cmd.op == "IPC_CREAT" {
		return d.create(c, cmd)
	}
	ref, err := cmd.object()
	if err != nil {
		return "", err
	}
	var run func(s *nsmodel.Sem) (string, error)
	switch cmd.op {
	case "IPC_RMID":
		run = func(s *nsmodel.Sem) (string, error) { return "", t.Remove(c, s) }
	case "IPC_SET":
		a, err := cmd.setAttr(false)
		if err != nil {
			return "", err
		}
		run = func(s *nsmodel.Sem) (string, error) { return "", t.Set(c, s, a) }
	case "SETVAL":
		args, err := semArgs(cmd, 2)
		if err != nil {
			return "", err
		}
		num, val := args[0], args[1]
		if val < 0 || val > nsmodel.SemVMX {
			return "", refuse(syscall.ERANGE, "value %d is outside 0..%d", val, nsmodel.SemVMX)
		}
		run = func(s *nsmodel.Sem) (string, error) { return "", s.SetVal(c, c.PID, num, val) }
	case "SETALL":
		vals, err := semArgs(cmd, -1)
		if err != nil {
			return "", err
		}
		run = func(s *nsmodel.Sem) (string, error) { return "", s.SetAll(c, c.PID, vals) }
	case "GETALL":
		if _, err := semArgs(cmd, 0); err != nil {
			return "", err
		}
		run = func(s *nsmodel.Sem) (string, error) {
			text, err := s.AppendValues(nil, c)
			return string(text), err
		}
	case "GETVAL", "GETPID", "GETNCNT", "GETZCNT":
		q := semQueries[cmd.op]
		args, err := semArgs(cmd, 1)
		if err != nil {
			return "", err
		}
		run = func(s *nsmodel.Sem) (string, error) {
			v, err := s.Query(c, q, args[0])
			return strconv.Itoa(v) + "\n", err
		}
	default:
		return "", refuse(syscall.EINVAL, "unknown command %s (sem/ctl takes IPC_CREAT, IPC_RMID, IPC_SET, SETVAL, SETALL, GETVAL, GETPID, GETNCNT, GETZCNT, GETALL)", cmd.op)
	}
	if err := cmd.done(); err != nil {
		return "", err
	}
	s, err := t.Lookup(ref)
	if err != nil {
		return "", because(err, lookupReason(refName(ref)))
	}
	st := t.Stat(s)
	res, err := run(s)
	if err != nil {
		return "", because(err, opReason(cmd.op, st.Name))
	}
	// The kernel saw none of it: the attributes of the set's inodes go
	// before the write returns.
	switch cmd.op {
	case "IPC_RMID", "IPC_SET":
		d.m.sets.changed(s)
	case "SETVAL", "SETALL":
		d.m.sets.moved(s)
	}
	if res == "" {
		res = fmt.Sprintf("%d %s\n", st.ID, st.Name)
	}
	return res, nil
}

var semQueries = map[string]nsmodel.SemQuery{
	"GETVAL":  nsmodel.GetVal,
	"GETPID":  nsmodel.GetPID,
	"GETNCNT": nsmodel.GetNcnt,
	"GETZCNT": nsmodel.GetZcnt,
}

// semArgs takes the bare numbers that follow the object of a command:
// exactly n of them, or any number but none when n is -1. A word that is
// no decimal integer is EINVAL; the model judges the numbers.
func semArgs(cmd *ctlCmd, n int) ([]int, error) {
	words := cmd.words
	switch {
	case n >= 0 && len(words) != n:
		return nil, refuse(syscall.EINVAL, "%s takes %d numbers after the set, not %d", cmd.op, n, len(words))
	case n < 0 && len(words) == 0:
		return nil, refuse(syscall.EINVAL, "%s takes the values after the set", cmd.op)
	}
	out := make([]int, len(words))
	for i, w := range words {
		v, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return nil, refuse(syscall.EINVAL, "%s is not a decimal integer", w)
		}
		out[i] = int(v)
	}
	cmd.words = nil
	return out, nil
}

func (d *semDirNode) create(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	key, err := cmd.key()
	if err != nil {
		return "", err
	}
	nsems, err := cmd.uint("nsems", 10, 31)
	if err != nil {
		return "", err
	}
	if nsems == nil {
		return "", refuse(syscall.EINVAL, "nsems= is required")
	}
	mode, err := cmd.createMode()
	if err != nil {
		return "", err
	}
	req := nsmodel.SemGet{Key: key, Nsems: int(*nsems), Mode: mode, Create: true}
	req.Access = req.Mode
	req.Excl = cmd.flag("IPC_EXCL")
	if err := cmd.done(); err != nil {
		return "", err
	}
	s, err := d.ns.Sem.Get(c, req)
	if err != nil {
		return "", because(err, createReason("sem", key))
	}
	st := d.ns.Sem.Stat(s)
	// Directories that show this table may hold a negative entry.
	d.m.inval.nameCame(d.ns.Sem, st.Name, nil)
	return fmt.Sprintf("%d %s\n", st.ID, st.Name), nil
}

// isSemctlWrite tells a SETVAL or SETALL written to a set's file from a
// semop, whose text starts with a number or a blank.
func isSemctlWrite(data []byte) bool {
	return bytes.HasPrefix(data, []byte("SETVAL")) || bytes.HasPrefix(data, []byte("SETALL"))
}

// semctl runs "SETVAL <semnum> <value>" or "SETALL <value>..." written
// to a set's file, on its set, as the handle's opener.
func (h *semHandle) semctl(ctx context.Context, data []byte) error {
	cmd, err := parseCtl(data)
	if err != nil {
		return err
	}
	if len(cmd.args) > 0 {
		return syscall.EINVAL
	}
	pid := h.pidOf(ctx)
	switch cmd.op {
	case "SETVAL":
		args, err := semArgs(cmd, 2)
		if err != nil {
			return err
		}
		return h.s.SetVal(h.cred, pid, args[0], args[1])
	case "SETALL":
		vals, err := semArgs(cmd, -1)
		if err != nil {
			return err
		}
		return h.s.SetAll(h.cred, pid, vals)
	}
	return syscall.EINVAL
}
