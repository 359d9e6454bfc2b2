package kernelipc

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Command numbers of shmctl, msgctl and semctl that x/sys/unix does not
// name (include/uapi/linux/{shm,msg,sem}.h).
const (
	ShmLock       = 11
	ShmUnlock     = 12
	cmdShmStatAny = 15
	ShmRdonly     = 0o10000
	// ShmHugeTLB and ShmNoReserve are shmget flags.
	ShmHugeTLB   = 0o4000
	ShmNoReserve = 0o10000
	// ShmDest and ShmLocked are the mode bits of a segment marked for
	// destruction and of a locked one.
	ShmDest   = 0o1000
	ShmLocked = 0o2000
)

// idxMask is the index part of an id (ipcid_to_idx); the kernel's
// default, without the ipcmni_extend boot option.
const idxMask = 0x7fff

// ShmDS is struct shmid64_ds.
type ShmDS = unix.SysvShmDesc

// ShmGet is shmget(key, size, flag) in the namespace.
func (ns *Namespace) ShmGet(c *Cred, key int32, size uint64, flag int) (int, error) {
	var id int
	err := ns.call(c, func() error {
		r, _, e := unix.RawSyscall(unix.SYS_SHMGET, uintptr(key), uintptr(size), uintptr(flag))
		id = int(r)
		return errnoErr(e)
	})
	return id, err
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func shmctl(id, cmd int, ds *ShmDS) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_SHMCTL, uintptr(id), uintptr(cmd), uintptr(unsafe.Pointer(ds)))
	return int(r), errnoErr(e)
}

// ShmStat is shmctl(IPC_STAT) with the caller's credentials: EACCES
// without read permission, as the kernel says.
func (ns *Namespace) ShmStat(c *Cred, id int) (ShmDS, error) {
	var ds ShmDS
	err := ns.call(c, func() error { _, err := shmctl(id, unix.IPC_STAT, &ds); return err })
	return ds, err
}

// shmStatAny is the state of segment id without a permission check
// (SHM_STAT_ANY, by index), on the calling serving thread: EINVAL when
// id is gone (its index holds nothing or another id).
func shmStatAny(id int) (ShmDS, error) {
	var ds ShmDS
	if id < 0 {
		return ds, unix.EINVAL
	}
	got, err := shmctl(id&idxMask, cmdShmStatAny, &ds)
	if err != nil {
		return ds, err
	}
	if got != id {
		return ds, unix.EINVAL
	}
	return ds, nil
}

// ShmStatAny is the state of segment id as ipcs sees it, whoever asks
// (SHM_STAT_ANY): what getattr and listings show.
func (ns *Namespace) ShmStatAny(id int) (ShmDS, error) {
	var ds ShmDS
	err := ns.call(serverCred(), func() (err error) { ds, err = shmStatAny(id); return })
	return ds, err
}

// SetAttr is what IPC_SET changes; a nil field keeps the object's value.
type SetAttr struct {
	UID, GID *uint32
	Mode     *uint32 // low 9 bits
	QBytes   *uint64 // msg only
}

// ShmSet is shmctl(IPC_SET) with the caller's credentials. The fields
// not given are the segment's own, read on the same thread just before.
func (ns *Namespace) ShmSet(c *Cred, id int, a SetAttr) error {
	return ns.call(c, func() error {
		ds, err := shmStatAny(id)
		if err != nil {
			return err
		}
		a.apply(&ds.Perm)
		_, err = shmctl(id, unix.IPC_SET, &ds)
		return err
	})
}

func (a SetAttr) apply(p *unix.SysvIpcPerm) {
	if a.UID != nil {
		p.Uid = *a.UID
	}
	if a.GID != nil {
		p.Gid = *a.GID
	}
	if a.Mode != nil {
		p.Mode = p.Mode&^0o777 | *a.Mode&0o777
	}
}

// ShmRmid is shmctl(IPC_RMID) with the caller's credentials.
func (ns *Namespace) ShmRmid(c *Cred, id int) error {
	return ns.call(c, func() error { _, err := shmctl(id, unix.IPC_RMID, nil); return err })
}

// ShmLock is shmctl(SHM_LOCK) or shmctl(SHM_UNLOCK) with the caller's
// credentials.
func (ns *Namespace) ShmLock(c *Cred, id int, lock bool) error {
	cmd := ShmUnlock
	if lock {
		cmd = ShmLock
	}
	return ns.call(c, func() error { _, err := shmctl(id, cmd, nil); return err })
}

// An Attach is the server's attachment of a segment, made for a caller,
// and a file of the segment's own pages. The kernel counts the attach
// in shm_nattch (and a segment removed meanwhile lives on until it ends),
// so one Attach per open file makes nattch count the file's users.
type Attach struct {
	// File is the segment's shm file, opened read-write through
	// /proc/self/map_files of the attach: read, write and mmap of it are
	// the segment's pages. It is read-write whatever the attach, so that
	// one file can back every open of the segment (FUSE passthrough
	// keeps one backing file per inode); the caller's own access is
	// what its open of the mirror's file allows. It is a shmem file: a
	// write past Size grows the file (not shm_segsz), which no attach of
	// the segment sees.
	File *os.File
	Size uint64
	addr uintptr
}

var pageSize = uint64(os.Getpagesize())

// ShmAttach attaches segment id for caller c, read-only unless write: the
// kernel checks the caller's permission (read, or read and write, as
// shmat does), and the attach is then the server's. The segment's file
// is opened through map_files with the server's own credentials
// (map_files wants CAP_SYS_ADMIN), as the attach itself gives it.
func (ns *Namespace) ShmAttach(c *Cred, id int, write bool) (*Attach, error) {
	flag := 0
	if !write {
		flag = ShmRdonly
	}
	var addr uintptr
	var ds ShmDS
	err := ns.call(c, func() error {
		r, _, e := unix.RawSyscall(unix.SYS_SHMAT, uintptr(id), 0, uintptr(flag))
		if e != 0 {
			return e
		}
		addr = r
		if _, err := shmctl(id, unix.IPC_STAT, &ds); err != nil {
			// A caller who may attach may read the segment's state;
			// only a removal racing with us gets here.
			unix.RawSyscall(unix.SYS_SHMDT, addr, 0, 0)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	end := addr + uintptr((ds.Segsz+pageSize-1)/pageSize*pageSize)
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/map_files/%x-%x", addr, end), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Syscall(unix.SYS_SHMDT, addr, 0, 0)
		return nil, err
	}
	return &Attach{File: f, Size: ds.Segsz, addr: addr}, nil
}

// Close closes the file and detaches: shm_nattch − 1, and a segment
// marked for destruction with no attach left is destroyed.
func (a *Attach) Close() error {
	if a.addr == 0 {
		return unix.EBADF
	}
	err := a.File.Close()
	if _, _, e := unix.Syscall(unix.SYS_SHMDT, a.addr, 0, 0); e != 0 && err == nil {
		err = e
	}
	a.addr = 0
	return err
}

// serverCred is the server acting on its own behalf.
func serverCred() *Cred {
	return &Cred{UID: base.euid, GID: base.egid, Groups: base.groups, Caps: base.caps}
}
