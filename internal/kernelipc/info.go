package kernelipc

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The *_INFO commands of shmctl, msgctl and semctl (uapi linux/ipc.h,
// shm.h, msg.h, sem.h): IPC_INFO reports the namespace's limits, the
// kind's own command its usage. Both return the highest index in use
// (ipc_get_maxidx, 0 for an empty table). None checks a permission.
const (
	cmdIPCInfo = 3
	cmdShmInfo = 14
	cmdMsgInfo = 12
	cmdSemInfo = 19
)

// ShmInfo64 is struct shminfo64, what shmctl(IPC_INFO) fills.
type ShmInfo64 struct {
	ShmMax, ShmMin, ShmMni, ShmSeg, ShmAll uint64
	_                                      [4]uint64
}

// ShmInfoDS is struct shm_info, what shmctl(SHM_INFO) fills: used_ids,
// then pages (shm_tot, shm_rss, shm_swp) and two unused counters.
type ShmInfoDS struct {
	UsedIDs                     int32
	_                           int32
	ShmTot, ShmRss, ShmSwp      uint64
	SwapAttempts, SwapSuccesses uint64
}

// MsgInfoDS is struct msginfo, which msgctl(IPC_INFO) and
// msgctl(MSG_INFO) fill with different things in msgpool, msgmap and
// msgtql.
type MsgInfoDS struct {
	MsgPool, MsgMap, MsgMax, MsgMnb, MsgMni, MsgSSZ, MsgTQL int32
	MsgSeg                                                  uint16
	_                                                       uint16
}

// SemInfoDS is struct seminfo, which semctl(IPC_INFO) and
// semctl(SEM_INFO) fill (SEM_INFO puts the sets in use in semusz and the
// semaphores in them in semaem).
type SemInfoDS struct {
	SemMap, SemMni, SemMns, SemMnu, SemMsl, SemOpm, SemUme, SemUsz, SemVmx, SemAem int32
}

// ShmInfo is shmctl(0, IPC_INFO) and shmctl(0, SHM_INFO) made one after
// the other on one serving thread in the namespace, with the caller's
// credentials, and the index the second returned.
func (ns *Namespace) ShmInfo(c *Cred) (lim ShmInfo64, use ShmInfoDS, maxIdx int, err error) {
	err = ns.call(c, func() error {
		if _, err := shmInfoCall(cmdIPCInfo, unsafe.Pointer(&lim)); err != nil {
			return err
		}
		var err error
		maxIdx, err = shmInfoCall(cmdShmInfo, unsafe.Pointer(&use))
		return err
	})
	return
}

func shmInfoCall(cmd int, p unsafe.Pointer) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_SHMCTL, 0, uintptr(cmd), uintptr(p))
	return int(r), errnoErr(e)
}

// MsgInfo is msgctl(0, IPC_INFO) and msgctl(0, MSG_INFO) on one serving
// thread in the namespace, and the index the second returned.
func (ns *Namespace) MsgInfo(c *Cred) (lim, use MsgInfoDS, maxIdx int, err error) {
	err = ns.call(c, func() error {
		if _, err := msgInfoCall(cmdIPCInfo, &lim); err != nil {
			return err
		}
		var err error
		maxIdx, err = msgInfoCall(cmdMsgInfo, &use)
		return err
	})
	return
}

func msgInfoCall(cmd int, ds *MsgInfoDS) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_MSGCTL, 0, uintptr(cmd), uintptr(unsafe.Pointer(ds)))
	return int(r), errnoErr(e)
}

// SemInfo is semctl(0, 0, IPC_INFO) and semctl(0, 0, SEM_INFO) on one
// serving thread in the namespace, and the index the second returned.
// The fourth argument is union semun, whose __buf member is the pointer.
func (ns *Namespace) SemInfo(c *Cred) (lim, use SemInfoDS, maxIdx int, err error) {
	err = ns.call(c, func() error {
		if _, err := semInfoCall(cmdIPCInfo, &lim); err != nil {
			return err
		}
		var err error
		maxIdx, err = semInfoCall(cmdSemInfo, &use)
		return err
	})
	return
}

func semInfoCall(cmd int, ds *SemInfoDS) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SEMCTL, 0, 0, uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0, 0)
	return int(r), errnoErr(e)
}
