package kernelipc

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Cred is who a call is made for: the effective uid and gid, the
// supplementary groups and the effective capabilities that the serving
// thread takes on for the call, so that the kernel's own ipcperms,
// ipc_check_perms, the IPC_SET/IPC_RMID owner rule and the /proc/sys
// permission checks decide.
type Cred struct {
	UID, GID uint32
	Groups   []uint32
	// Caps is the effective capability set the call runs with. The
	// kernel computes it for a thread that takes uid UID from a root
	// server: everything for uid 0, nothing for any other uid
	// (cap_emulate_setxuid); CredOf narrows it to what the caller itself
	// holds.
	Caps uint64
}

// NewCred is the credential of uid and gid with the capabilities the
// kernel gives a task that takes that uid: all of the server's for 0,
// none otherwise.
func NewCred(uid, gid uint32, groups []uint32) *Cred {
	c := &Cred{UID: uid, GID: gid, Groups: groups}
	if uid == 0 {
		c.Caps = base.caps
	}
	return c
}

// CredOf is the credential of a calling process: its effective uid and
// gid as FUSE reports them, its supplementary groups and, when it is in
// the server's user namespace, its effective capabilities, from
// /proc/<pid>/status. A caller in another user namespace has no
// capability over namespaces owned by the server's (the kernel asks
// ns_capable of the namespace's owner), and a process that is gone is
// taken as NewCred takes its uid.
func CredOf(uid, gid uint32, pid int32) *Cred {
	c := NewCred(uid, gid, nil)
	if pid <= 0 {
		return c
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return c
	}
	defer f.Close()
	own := sameUserNS(pid)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Groups:"):
			for _, g := range strings.Fields(line[len("Groups:"):]) {
				if v, err := strconv.ParseUint(g, 10, 32); err == nil {
					c.Groups = append(c.Groups, uint32(v))
				}
			}
		case strings.HasPrefix(line, "CapEff:"):
			caps, _ := strconv.ParseUint(strings.TrimSpace(line[len("CapEff:"):]), 16, 64)
			if !own {
				caps = 0
			}
			c.Caps = caps & base.caps
		}
	}
	return c
}

func sameUserNS(pid int32) bool {
	var theirs, ours unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/user", pid), &theirs) != nil || unix.Stat("/proc/self/ns/user", &ours) != nil {
		return false
	}
	return theirs.Ino == ours.Ino && theirs.Dev == ours.Dev
}

// threadCreds is what a serving thread is restored to after every call:
// the server's own credentials, read once at startup from the thread
// that first needs them (every thread of the process has the same ones
// then, since nothing in shmfs changes them process-wide).
type threadCreds struct {
	ruid, euid, suid uint32
	rgid, egid, sgid uint32
	groups           []uint32
	caps             uint64 // effective
	permitted        uint64
	inheritable      uint64
}

var (
	base     threadCreds
	baseErr  error
	baseOnce sync.Once
)

func init() { loadBase() }

func loadBase() {
	baseOnce.Do(func() {
		r, e, s := unix.Getresuid()
		base.ruid, base.euid, base.suid = uint32(r), uint32(e), uint32(s)
		r, e, s = unix.Getresgid()
		base.rgid, base.egid, base.sgid = uint32(r), uint32(e), uint32(s)
		gs, err := unix.Getgroups()
		if err != nil {
			baseErr = err
		}
		for _, g := range gs {
			base.groups = append(base.groups, uint32(g))
		}
		base.caps, base.permitted, base.inheritable, err = capget()
		if err != nil && baseErr == nil {
			baseErr = err
		}
	})
}

const linuxCapabilityVersion3 = 0x20080522

// capget reads the calling thread's capability sets.
func capget() (eff, perm, inh uint64, err error) {
	hdr := unix.CapUserHeader{Version: linuxCapabilityVersion3}
	var data [2]unix.CapUserData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return 0, 0, 0, e
	}
	eff = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	perm = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	inh = uint64(data[0].Inheritable) | uint64(data[1].Inheritable)<<32
	return eff, perm, inh, nil
}

// capset sets the calling thread's capability sets (capset(2) with pid
// 0 changes only the calling thread).
func capset(eff, perm, inh uint64) error {
	hdr := unix.CapUserHeader{Version: linuxCapabilityVersion3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(perm), Inheritable: uint32(inh)},
		{Effective: uint32(eff >> 32), Permitted: uint32(perm >> 32), Inheritable: uint32(inh >> 32)},
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	return nil
}

// The three id changes are raw per-thread syscalls. Go's syscall.Setuid
// and friends (and x/sys/unix's, which call them) change every thread of
// the process, as POSIX wants; the kernel's setresuid changes only the
// calling task, which is what a serving thread needs.
func setresuid(r, e, s uint32) error {
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(r), uintptr(e), uintptr(s)); errno != 0 {
		return errno
	}
	return nil
}

func setresgid(r, e, s uint32) error {
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(r), uintptr(e), uintptr(s)); errno != 0 {
		return errno
	}
	return nil
}

func setgroups(gs []uint32) error {
	var p unsafe.Pointer
	if len(gs) > 0 {
		p = unsafe.Pointer(&gs[0])
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), uintptr(p), 0); errno != 0 {
		return errno
	}
	return nil
}

// become gives the calling (locked) thread the credentials c. The saved
// uid stays the server's (0), so the thread keeps its permitted
// capabilities and can come back; the kernel clears the effective set
// when the effective uid leaves 0 (cap_emulate_setxuid), and capset then
// sets it to what c may use. The file-system uid follows the effective
// uid, so /proc/sys checks see the caller too.
func become(c *Cred) error {
	if err := setgroups(c.Groups); err != nil {
		return err
	}
	if err := setresgid(c.GID, c.GID, base.sgid); err != nil {
		return err
	}
	if err := setresuid(c.UID, c.UID, base.suid); err != nil {
		return err
	}
	want := c.Caps & base.permitted
	var now uint64
	if c.UID == 0 {
		now = base.permitted
	}
	if want != now {
		return capset(want, base.permitted, base.inheritable)
	}
	return nil
}

// restore gives the calling thread back the server's credentials. The
// uid comes first: the effective set is refilled from the permitted set
// when the effective uid returns to 0, and the gid and groups need
// CAP_SETGID.
func restore() error {
	if err := setresuid(base.ruid, base.euid, base.suid); err != nil {
		return err
	}
	if err := capset(base.caps, base.permitted, base.inheritable); err != nil {
		return err
	}
	if err := setresgid(base.rgid, base.egid, base.sgid); err != nil {
		return err
	}
	return setgroups(base.groups)
}
