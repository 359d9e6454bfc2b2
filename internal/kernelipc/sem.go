package kernelipc

import (
	"context"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semctl commands and semop flags (include/uapi/linux/sem.h).
const (
	GetPid        = 11
	GetVal        = 12
	GetAll        = 13
	GetNcnt       = 14
	GetZcnt       = 15
	SetVal        = 16
	SetAll        = 17
	cmdSemStatAny = 20
	SemUndo       = 0x1000
)

var zeroTime time.Time

// SemDS is struct semid64_ds on x86-64.
type SemDS struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_     [2]uint64
}

// Sembuf is struct sembuf.
type Sembuf struct {
	Num uint16
	Op  int16
	Flg int16
}

func semctl(id, num, cmd int, arg uintptr) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), arg, 0, 0)
	return int(r), errnoErr(e)
}

// SemGet is semget(key, nsems, flag).
func (ns *Namespace) SemGet(c *Cred, key int32, nsems int, flag int) (int, error) {
	var id int
	err := ns.call(c, func() error {
		r, _, e := unix.RawSyscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flag))
		id = int(r)
		return errnoErr(e)
	})
	return id, err
}

// Semop is one semop (timeout nil) or semtimedop of the list ops, made
// at once or not at all, as the kernel makes it. It may block unless
// every operation has IPC_NOWAIT; the end of ctx interrupts it (EINTR),
// and a timeout ends it with EAGAIN. Operations with SEM_UNDO need the
// caller's handle's Undo thread, u (EINVAL without), on which the whole
// call is made.
func (ns *Namespace) Semop(ctx context.Context, c *Cred, id int, ops []Sembuf, timeout *time.Duration, u *Undo) error {
	if len(ops) == 0 {
		// The kernel's own answer for nsops 0 (E2BIG is for too many).
		return ns.call(c, func() error {
			_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), 0, 0, 0, 0, 0)
			return errnoErr(e)
		})
	}
	undo, nowait := false, true
	for _, o := range ops {
		if o.Flg&SemUndo != 0 {
			undo = true
		}
		if o.Flg&unix.IPC_NOWAIT == 0 {
			nowait = false
		}
	}
	if undo && u == nil {
		return unix.EINVAL
	}
	var deadline time.Time
	if timeout != nil {
		deadline = time.Now().Add(*timeout)
	}
	op := func(nw bool) error {
		list := ops
		if nw {
			list = make([]Sembuf, len(ops))
			for i, o := range ops {
				o.Flg |= unix.IPC_NOWAIT
				list[i] = o
			}
		}
		var tsp uintptr
		var ts unix.Timespec
		if timeout != nil {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			ts = unix.NsecToTimespec(int64(left))
			tsp = uintptr(unsafe.Pointer(&ts))
		}
		_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&list[0])), uintptr(len(list)), tsp, 0, 0)
		return errnoErr(e)
	}
	switch {
	case u != nil:
		if nowait {
			return u.exec(nil, c, func(bool) error { return op(false) })
		}
		return u.exec(ctx, c, op)
	case nowait:
		return ns.call(c, func() error { return op(false) })
	default:
		return ns.block(ctx, c, deadline, op)
	}
}

// SemCtl is semctl(id, num, cmd) for the commands that take and give an
// int: GETVAL, GETPID, GETNCNT, GETZCNT (val unused) and SETVAL.
func (ns *Namespace) SemCtl(c *Cred, id, num, cmd, val int) (int, error) {
	var r int
	err := ns.call(c, func() (err error) { r, err = semctl(id, num, cmd, uintptr(val)); return })
	return r, err
}

// SemGetAll is semctl(GETALL). The number of semaphores comes from
// IPC_STAT on the same thread just before, which needs the same read
// permission.
func (ns *Namespace) SemGetAll(c *Cred, id int) ([]uint16, error) {
	var vals []uint16
	err := ns.call(c, func() error {
		var ds SemDS
		if _, err := semctl(id, 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&ds))); err != nil {
			return err
		}
		vals = make([]uint16, ds.Nsems+1)
		_, err := semctl(id, 0, GetAll, uintptr(unsafe.Pointer(&vals[0])))
		vals = vals[:ds.Nsems]
		return err
	})
	return vals, err
}

// SemSetAll is semctl(SETALL); vals must have one value per semaphore,
// as the kernel reads nsems of them.
func (ns *Namespace) SemSetAll(c *Cred, id int, vals []uint16) error {
	return ns.call(c, func() error {
		ds, err := semStatAny(id)
		if err != nil {
			return err
		}
		if uint64(len(vals)) != ds.Nsems {
			return unix.EINVAL
		}
		buf := append([]uint16(nil), vals...)
		buf = append(buf, 0)
		_, err = semctl(id, 0, SetAll, uintptr(unsafe.Pointer(&buf[0])))
		return err
	})
}

// SemStat is semctl(IPC_STAT) with the caller's credentials.
func (ns *Namespace) SemStat(c *Cred, id int) (SemDS, error) {
	var ds SemDS
	err := ns.call(c, func() error { _, err := semctl(id, 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&ds))); return err })
	return ds, err
}

func semStatAny(id int) (SemDS, error) {
	var ds SemDS
	if id < 0 {
		return ds, unix.EINVAL
	}
	got, err := semctl(id&idxMask, 0, cmdSemStatAny, uintptr(unsafe.Pointer(&ds)))
	if err != nil {
		return ds, err
	}
	if got != id {
		return ds, unix.EINVAL
	}
	return ds, nil
}

// SemStatAny is the state of set id whoever asks (SEM_STAT_ANY).
func (ns *Namespace) SemStatAny(id int) (SemDS, error) {
	var ds SemDS
	err := ns.call(serverCred(), func() (err error) { ds, err = semStatAny(id); return })
	return ds, err
}

// SemSet is semctl(IPC_SET) with the caller's credentials.
func (ns *Namespace) SemSet(c *Cred, id int, a SetAttr) error {
	return ns.call(c, func() error {
		ds, err := semStatAny(id)
		if err != nil {
			return err
		}
		a.apply(&ds.Perm)
		_, err = semctl(id, 0, unix.IPC_SET, uintptr(unsafe.Pointer(&ds)))
		return err
	})
}

// SemRmid is semctl(IPC_RMID) with the caller's credentials.
func (ns *Namespace) SemRmid(c *Cred, id int) error {
	return ns.call(c, func() error { _, err := semctl(id, 0, unix.IPC_RMID, 0); return err })
}
