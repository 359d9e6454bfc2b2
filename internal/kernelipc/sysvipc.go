package kernelipc

import (
	"fmt"
	"strconv"
	"strings"
)

// ShmInfo is one line of /proc/sysvipc/shm.
type ShmInfo struct {
	Key                  int32
	ID                   int
	Mode                 uint32 // perms, with SHM_DEST and SHM_LOCKED
	Size                 uint64
	Cpid, Lpid           int32
	Nattch               uint64
	UID, GID, CUID, CGID uint32
	Atime, Dtime, Ctime  int64
	RSS, Swap            uint64
}

// MsgInfo is one line of /proc/sysvipc/msg.
type MsgInfo struct {
	Key                  int32
	ID                   int
	Mode                 uint32
	Cbytes, Qnum         uint64
	Lspid, Lrpid         int32
	UID, GID, CUID, CGID uint32
	Stime, Rtime, Ctime  int64
}

// SemInfo is one line of /proc/sysvipc/sem.
type SemInfo struct {
	Key                  int32
	ID                   int
	Mode                 uint32
	Nsems                uint64
	UID, GID, CUID, CGID uint32
	Otime, Ctime         int64
}

// fields splits the table into rows of n fields, skipping the header.
func rows(b []byte, n int) ([][]string, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var out [][]string
	for i, l := range lines {
		if i == 0 || strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != n {
			return nil, fmt.Errorf("kernelipc: sysvipc line %q: %d fields, want %d", l, len(f), n)
		}
		out = append(out, f)
	}
	return out, nil
}

type parser struct{ err error }

func (p *parser) i(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *parser) u(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *parser) o(s string) uint32 {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil && p.err == nil {
		p.err = err
	}
	return uint32(v)
}

// ParseShm parses /proc/sysvipc/shm: key shmid perms size cpid lpid
// nattch uid gid cuid cgid atime dtime ctime rss swap.
func ParseShm(b []byte) ([]ShmInfo, error) {
	rs, err := rows(b, 16)
	if err != nil {
		return nil, err
	}
	var p parser
	out := make([]ShmInfo, 0, len(rs))
	for _, f := range rs {
		out = append(out, ShmInfo{Key: int32(p.i(f[0])), ID: int(p.i(f[1])), Mode: p.o(f[2]), Size: p.u(f[3]),
			Cpid: int32(p.i(f[4])), Lpid: int32(p.i(f[5])), Nattch: p.u(f[6]),
			UID: uint32(p.u(f[7])), GID: uint32(p.u(f[8])), CUID: uint32(p.u(f[9])), CGID: uint32(p.u(f[10])),
			Atime: p.i(f[11]), Dtime: p.i(f[12]), Ctime: p.i(f[13]), RSS: p.u(f[14]), Swap: p.u(f[15])})
	}
	return out, p.err
}

// ParseMsg parses /proc/sysvipc/msg: key msqid perms cbytes qnum lspid
// lrpid uid gid cuid cgid stime rtime ctime.
func ParseMsg(b []byte) ([]MsgInfo, error) {
	rs, err := rows(b, 14)
	if err != nil {
		return nil, err
	}
	var p parser
	out := make([]MsgInfo, 0, len(rs))
	for _, f := range rs {
		out = append(out, MsgInfo{Key: int32(p.i(f[0])), ID: int(p.i(f[1])), Mode: p.o(f[2]),
			Cbytes: p.u(f[3]), Qnum: p.u(f[4]), Lspid: int32(p.i(f[5])), Lrpid: int32(p.i(f[6])),
			UID: uint32(p.u(f[7])), GID: uint32(p.u(f[8])), CUID: uint32(p.u(f[9])), CGID: uint32(p.u(f[10])),
			Stime: p.i(f[11]), Rtime: p.i(f[12]), Ctime: p.i(f[13])})
	}
	return out, p.err
}

// ParseSem parses /proc/sysvipc/sem: key semid perms nsems uid gid cuid
// cgid otime ctime.
func ParseSem(b []byte) ([]SemInfo, error) {
	rs, err := rows(b, 10)
	if err != nil {
		return nil, err
	}
	var p parser
	out := make([]SemInfo, 0, len(rs))
	for _, f := range rs {
		out = append(out, SemInfo{Key: int32(p.i(f[0])), ID: int(p.i(f[1])), Mode: p.o(f[2]), Nsems: p.u(f[3]),
			UID: uint32(p.u(f[4])), GID: uint32(p.u(f[5])), CUID: uint32(p.u(f[6])), CGID: uint32(p.u(f[7])),
			Otime: p.i(f[8]), Ctime: p.i(f[9])})
	}
	return out, p.err
}

// ListShm is the namespace's segments, as its /proc/sysvipc/shm shows
// them to the caller (every one, including those marked for
// destruction, whatever their mode).
func (ns *Namespace) ListShm(c *Cred) ([]ShmInfo, error) {
	b, err := ns.Sysvipc(c, "shm")
	if err != nil {
		return nil, err
	}
	return ParseShm(b)
}

// ListMsg is the namespace's queues.
func (ns *Namespace) ListMsg(c *Cred) ([]MsgInfo, error) {
	b, err := ns.Sysvipc(c, "msg")
	if err != nil {
		return nil, err
	}
	return ParseMsg(b)
}

// ListSem is the namespace's semaphore sets.
func (ns *Namespace) ListSem(c *Cred) ([]SemInfo, error) {
	b, err := ns.Sysvipc(c, "sem")
	if err != nil {
		return nil, err
	}
	return ParseSem(b)
}
