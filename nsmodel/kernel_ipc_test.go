package nsmodel_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// The kernel's side of the fidelity tests: the System V calls of the
// three kinds and the *_INFO commands, as raw system calls on the
// calling thread (which inPrivateIPC put in a namespace of its own).

// Commands of the *_INFO calls (linux/ipc.h, shm.h, msg.h, sem.h).
const (
	kIPCInfo = 3
	kShmInfo = 14
	kMsgInfo = 12
	kSemInfo = 19
)

// kShminfo is struct shminfo64, kShmInfoT struct shm_info, kMsginfo
// struct msginfo, kSeminfo struct seminfo (64-bit layouts).
type kShminfo struct {
	Shmmax, Shmmin, Shmmni, Shmseg, Shmall uint64
	_                                      [4]uint64
}

type kShmInfoT struct {
	UsedIDs                                             int32
	_                                                   int32
	ShmTot, ShmRss, ShmSwp, SwapAttempts, SwapSuccesses uint64
}

type kMsginfo struct {
	Msgpool, Msgmap, Msgmax, Msgmnb, Msgmni, Msgssz, Msgtql int32
	Msgseg                                                  uint16
	_                                                       uint16
}

type kSeminfo struct {
	Semmap, Semmni, Semmns, Semmnu, Semmsl, Semopm, Semume, Semusz, Semvmx, Semaem int32
}

func sysv(trap, a1, a2, a3, a4 uintptr) (int, error) {
	r, _, e := unix.Syscall6(trap, a1, a2, a3, a4, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// kernelShmInfo is nsmodel.ShmInfo as the kernel reports it.
func kernelShmInfo() (nsmodel.ShmInfo, error) {
	var l kShminfo
	var u kShmInfoT
	r1, err := sysv(unix.SYS_SHMCTL, 0, kIPCInfo, uintptr(unsafe.Pointer(&l)), 0)
	if err != nil {
		return nsmodel.ShmInfo{}, err
	}
	r2, err := sysv(unix.SYS_SHMCTL, 0, kShmInfo, uintptr(unsafe.Pointer(&u)), 0)
	if err != nil {
		return nsmodel.ShmInfo{}, err
	}
	if r1 != r2 {
		return nsmodel.ShmInfo{}, fmt.Errorf("IPC_INFO returned %d, SHM_INFO %d", r1, r2)
	}
	return nsmodel.ShmInfo{
		ShmMax: l.Shmmax, ShmMin: l.Shmmin, ShmMni: l.Shmmni, ShmSeg: l.Shmseg, ShmAll: l.Shmall,
		UsedIDs: int(u.UsedIDs), ShmTot: u.ShmTot, ShmRss: u.ShmRss, ShmSwp: u.ShmSwp,
		SwapAttempts: u.SwapAttempts, SwapSuccesses: u.SwapSuccesses, MaxIdx: r1,
	}, nil
}

// kernelMsgInfo is nsmodel.MsgInfo as the kernel reports it.
func kernelMsgInfo() (nsmodel.MsgInfo, error) {
	var l, u kMsginfo
	r1, err := sysv(unix.SYS_MSGCTL, 0, kIPCInfo, uintptr(unsafe.Pointer(&l)), 0)
	if err != nil {
		return nsmodel.MsgInfo{}, err
	}
	r2, err := sysv(unix.SYS_MSGCTL, 0, kMsgInfo, uintptr(unsafe.Pointer(&u)), 0)
	if err != nil {
		return nsmodel.MsgInfo{}, err
	}
	if r1 != r2 {
		return nsmodel.MsgInfo{}, fmt.Errorf("IPC_INFO returned %d, MSG_INFO %d", r1, r2)
	}
	return nsmodel.MsgInfo{
		MsgPool: int(l.Msgpool), MsgMap: int(l.Msgmap), MsgMax: int(l.Msgmax), MsgMnb: int(l.Msgmnb),
		MsgMni: int(l.Msgmni), MsgSSZ: int(l.Msgssz), MsgTQL: int(l.Msgtql), MsgSeg: int(l.Msgseg),
		UsedQueues: int(u.Msgpool), Messages: int(u.Msgmap), Bytes: int(u.Msgtql), MaxIdx: r1,
	}, nil
}

// kernelSemInfo is nsmodel.SemInfo as the kernel reports it.
func kernelSemInfo() (nsmodel.SemInfo, error) {
	var l, u kSeminfo
	r1, err := sysv(unix.SYS_SEMCTL, 0, 0, kIPCInfo, uintptr(unsafe.Pointer(&l)))
	if err != nil {
		return nsmodel.SemInfo{}, err
	}
	r2, err := sysv(unix.SYS_SEMCTL, 0, 0, kSemInfo, uintptr(unsafe.Pointer(&u)))
	if err != nil {
		return nsmodel.SemInfo{}, err
	}
	if r1 != r2 {
		return nsmodel.SemInfo{}, fmt.Errorf("IPC_INFO returned %d, SEM_INFO %d", r1, r2)
	}
	return nsmodel.SemInfo{
		SemMap: int(l.Semmap), SemMni: int(l.Semmni), SemMns: int(l.Semmns), SemMnu: int(l.Semmnu),
		SemMsl: int(l.Semmsl), SemOpm: int(l.Semopm), SemUme: int(l.Semume), SemUsz: int(l.Semusz),
		SemVmx: int(l.Semvmx), SemAem: int(l.Semaem),
		UsedSets: int(u.Semusz), UsedSems: int(u.Semaem), MaxIdx: r1,
	}, nil
}

// sysctl reads /proc/sys/kernel/<name> of the thread's IPC namespace.
func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/kernel/" + name)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

// setSysctl writes text to /proc/sys/kernel/<name> in one write.
func setSysctl(name, text string) error {
	fd, err := unix.Open("/proc/sys/kernel/"+name, unix.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(text))
	return err
}

// ipcKind is one kind as both sides do it: get with IPC_CREAT (and
// IPC_EXCL), and IPC_RMID by id. bad asks the kind's own way to fail
// before an id is allocated (shm: size 0; sem: nsems over semmsl; msgget
// has none).
type ipcKind struct {
	name   string
	kget   func(key int32, excl bool, bad bool) (int, error)
	krm    func(id int) error
	kfound func(id int) bool
	mget   func(ns *nsmodel.Namespace, key int32, excl bool, bad bool) (int32, error)
	mrm    func(ns *nsmodel.Namespace, id int32) error
	mfound func(ns *nsmodel.Namespace, id int32) bool
}

func flagsOf(excl bool) uintptr {
	f := uintptr(unix.IPC_CREAT | 0o600)
	if excl {
		f |= unix.IPC_EXCL
	}
	return f
}

var ipcKinds = []ipcKind{
	{
		name: "shm",
		kget: func(key int32, excl, bad bool) (int, error) {
			size := uintptr(4096)
			if bad {
				size = 0
			}
			return sysv(unix.SYS_SHMGET, uintptr(key), size, flagsOf(excl), 0)
		},
		krm: func(id int) error {
			_, err := sysv(unix.SYS_SHMCTL, uintptr(id), unix.IPC_RMID, 0, 0)
			return err
		},
		kfound: func(id int) bool {
			var ds unix.SysvShmDesc
			_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
			return err == nil
		},
		mget: func(ns *nsmodel.Namespace, key int32, excl, bad bool) (int32, error) {
			size := uint64(4096)
			if bad {
				size = 0
			}
			s, err := ns.Shm.Get(root(), nsmodel.ShmGet{Key: key, Size: size, Mode: 0o600, Create: true, Excl: excl})
			if err != nil {
				return -1, err
			}
			return ns.Shm.Stat(s).ID, nil
		},
		mrm: func(ns *nsmodel.Namespace, id int32) error {
			s, err := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: id})
			if err != nil {
				return err
			}
			return ns.Shm.Remove(root(), s)
		},
		mfound: func(ns *nsmodel.Namespace, id int32) bool {
			_, err := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: id})
			return err == nil
		},
	},
	{
		name: "msg",
		kget: func(key int32, excl, bad bool) (int, error) {
			return sysv(unix.SYS_MSGGET, uintptr(key), flagsOf(excl), 0, 0)
		},
		krm: func(id int) error {
			_, err := sysv(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0, 0)
			return err
		},
		kfound: func(id int) bool {
			var buf [256]byte
			_, err := sysv(unix.SYS_MSGCTL, uintptr(id), unix.IPC_STAT, uintptr(unsafe.Pointer(&buf)), 0)
			return err == nil
		},
		mget: func(ns *nsmodel.Namespace, key int32, excl, bad bool) (int32, error) {
			q, err := ns.Msg.Get(root(), nsmodel.MsgGet{Key: key, Mode: 0o600, Create: true, Excl: excl})
			if err != nil {
				return -1, err
			}
			return ns.Msg.Stat(q).ID, nil
		},
		mrm: func(ns *nsmodel.Namespace, id int32) error {
			q, err := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: id})
			if err != nil {
				return err
			}
			return ns.Msg.Remove(root(), q)
		},
		mfound: func(ns *nsmodel.Namespace, id int32) bool {
			_, err := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: id})
			return err == nil
		},
	},
	{
		name: "sem",
		kget: func(key int32, excl, bad bool) (int, error) {
			n := uintptr(2)
			if bad {
				n = 32001
			}
			return sysv(unix.SYS_SEMGET, uintptr(key), n, flagsOf(excl), 0)
		},
		krm: func(id int) error {
			_, err := sysv(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0)
			return err
		},
		kfound: func(id int) bool {
			var buf [256]byte
			_, err := sysv(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&buf)))
			return err == nil
		},
		mget: func(ns *nsmodel.Namespace, key int32, excl, bad bool) (int32, error) {
			n := 2
			if bad {
				n = 32001
			}
			s, err := ns.Sem.Get(root(), nsmodel.SemGet{Key: key, Nsems: n, Mode: 0o600, Create: true, Excl: excl})
			if err != nil {
				return -1, err
			}
			return ns.Sem.Stat(s).ID, nil
		},
		mrm: func(ns *nsmodel.Namespace, id int32) error {
			s, err := ns.Sem.Lookup(nsmodel.Ref{ByID: true, ID: id})
			if err != nil {
				return err
			}
			return ns.Sem.Remove(root(), s)
		},
		mfound: func(ns *nsmodel.Namespace, id int32) bool {
			_, err := ns.Sem.Lookup(nsmodel.Ref{ByID: true, ID: id})
			return err == nil
		},
	},
}

// idOf reads an id the way a test prints it.
func idOf(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -2
	}
	return n
}
