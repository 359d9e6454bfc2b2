package nsmodel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Capabilities that the IPC code consults (linux/capability.h).
const (
	CapFowner      = 3
	CapIPCLock     = 14
	CapIPCOwner    = 15
	CapSysAdmin    = 21
	CapSysResource = 24
)

// Cred is who is asking: the effective ids and pid of the calling process.
// Supplementary groups and capabilities are read from /proc/<pid>/status
// only when a decision needs them, so the common paths (owner or root
// opening its own object) never touch /proc.
//
// Capabilities count only for a caller in the server's user namespace:
// the kernel asks ns_capable(ns->user_ns, ...) of the user namespace
// that owns the IPC namespace, and every shmfs namespace belongs to the
// server's. The root of a container's user namespace has a full CapEff
// that means nothing here.
type Cred struct {
	UID, GID uint32
	PID      int32

	once   sync.Once
	groups []uint32
	caps   uint64
	// fixed is set by credentials built in-process (tests, the server
	// itself), which carry their groups and capabilities with them.
	fixed bool
	// memlock is RLIMIT_MEMLOCK of a fixed credential.
	memlock uint64
}

// NewCred returns the credentials of a calling process.
func NewCred(uid, gid uint32, pid int32) *Cred {
	return &Cred{UID: uid, GID: gid, PID: pid}
}

// NewFixedCred returns credentials whose groups and capabilities are given
// rather than read from /proc.
func NewFixedCred(uid, gid uint32, pid int32, groups []uint32, caps uint64) *Cred {
	return &Cred{UID: uid, GID: gid, PID: pid, groups: groups, caps: caps, fixed: true}
}

// RootCred is the server acting on its own behalf.
func RootCred() *Cred { return NewFixedCred(0, 0, int32(os.Getpid()), nil, ^uint64(0)) }

func (c *Cred) load() {
	if c.fixed {
		return
	}
	c.once.Do(func() {
		if c.PID <= 0 {
			// The kernel itself (writeback): trust it as root would be.
			if c.UID == 0 {
				c.caps = ^uint64(0)
			}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.PID))
		if err != nil {
			// The process is gone; fall back on what its uid implies.
			if c.UID == 0 {
				c.caps = ^uint64(0)
			}
			return
		}
		defer f.Close()
		ownUserNS := sameUserNS(c.PID)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "Groups:"):
				for _, g := range strings.Fields(line[len("Groups:"):]) {
					if v, err := strconv.ParseUint(g, 10, 32); err == nil {
						c.groups = append(c.groups, uint32(v))
					}
				}
			case strings.HasPrefix(line, "CapEff:") && ownUserNS:
				c.caps, _ = strconv.ParseUint(strings.TrimSpace(line[len("CapEff:"):]), 16, 64)
			}
		}
	})
}

// sameUserNS reports whether process pid is in the server's user
// namespace; when that cannot be told, it is not.
func sameUserNS(pid int32) bool {
	var theirs, ours unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/user", pid), &theirs) != nil || unix.Stat("/proc/self/ns/user", &ours) != nil {
		return false
	}
	return theirs.Ino == ours.Ino && theirs.Dev == ours.Dev
}

// InGroup reports whether gid is the caller's effective or a supplementary
// group, as in_group_p does.
func (c *Cred) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	c.load()
	for _, g := range c.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Capable reports whether the caller holds capability cap.
func (c *Cred) Capable(cap uint) bool {
	c.load()
	return c.caps&(1<<cap) != 0
}

// MemlockLimit is the caller's RLIMIT_MEMLOCK in bytes, which bounds what
// it may pin with SHM_LOCK.
func (c *Cred) MemlockLimit() uint64 {
	if c.fixed || c.PID <= 0 {
		return c.memlock
	}
	var rl unix.Rlimit
	if err := unix.Prlimit(int(c.PID), unix.RLIMIT_MEMLOCK, nil, &rl); err == nil {
		return rl.Cur
	}
	// prlimit of another user's process needs CAP_SYS_RESOURCE, which
	// a root server in a container often lacks; /proc/PID/limits is
	// readable by all.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", c.PID))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max locked memory"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			if f[0] == "unlimited" {
				return unix.RLIM_INFINITY
			}
			v, _ := strconv.ParseUint(f[0], 10, 64)
			return v
		}
	}
	return 0
}

// WithMemlock sets the RLIMIT_MEMLOCK of a fixed credential.
func (c *Cred) WithMemlock(limit uint64) *Cred {
	c.memlock = limit
	return c
}
