package nsmodel

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Limits are the namespace's ipc sysctls, as /proc/sys/kernel has them.
type Limits struct {
	ShmMax uint64 // largest segment, bytes
	ShmAll uint64 // pages in all segments of the namespace
	ShmMni int    // segments
	MsgMax int    // bytes in one message
	MsgMnb int    // default qbytes of a queue
	MsgMni int    // queues
	SemMsl int    // semaphores in a set
	SemMns int    // semaphores in all sets
	SemOpm int    // operations in one semop
	SemMni int    // sets
}

// DefaultLimits are the kernel's defaults (include/uapi/linux/shm.h, msg.h,
// sem.h).
func DefaultLimits() Limits {
	return Limits{
		ShmMax: math.MaxUint64 - 1<<24,
		ShmAll: math.MaxUint64 - 1<<24,
		ShmMni: 4096,
		MsgMax: 8192,
		MsgMnb: 16384,
		MsgMni: 32000,
		SemMsl: 32000,
		SemMns: 1024000000,
		SemOpm: 500,
		SemMni: 32000,
	}
}

// LimitNames are the files of limits/, in the order they are listed.
var LimitNames = []string{"msgmax", "msgmnb", "msgmni", "sem", "shmall", "shmmax", "shmmni"}

// Format renders one limit as /proc/sys/kernel/<name> does.
func (l *Limits) Format(name string) (string, error) {
	switch name {
	case "shmmax":
		return fmt.Sprintf("%d\n", l.ShmMax), nil
	case "shmall":
		return fmt.Sprintf("%d\n", l.ShmAll), nil
	case "shmmni":
		return fmt.Sprintf("%d\n", l.ShmMni), nil
	case "msgmax":
		return fmt.Sprintf("%d\n", l.MsgMax), nil
	case "msgmnb":
		return fmt.Sprintf("%d\n", l.MsgMnb), nil
	case "msgmni":
		return fmt.Sprintf("%d\n", l.MsgMni), nil
	case "sem":
		return fmt.Sprintf("%d\t%d\t%d\t%d\n", l.SemMsl, l.SemMns, l.SemOpm, l.SemMni), nil
	}
	return "", unix.ENOENT
}

// Parse sets one limit from what a writer wrote, with the range checks of
// ipc/ipc_sysctl.c; out of range or malformed is EINVAL and changes nothing.
func (l *Limits) Parse(name, text string) error {
	f := strings.Fields(text)
	intIn := func(s string, hi int) (int, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 || v > int64(hi) {
			return 0, unix.EINVAL
		}
		return int(v), nil
	}
	if name == "sem" {
		if len(f) != 4 {
			return unix.EINVAL
		}
		var v [4]int
		for i := range v {
			n, err := intIn(f[i], math.MaxInt32)
			if err != nil {
				return err
			}
			v[i] = n
		}
		if v[3] > IPCMNI {
			return unix.EINVAL
		}
		l.SemMsl, l.SemMns, l.SemOpm, l.SemMni = v[0], v[1], v[2], v[3]
		return nil
	}
	if len(f) != 1 {
		return unix.EINVAL
	}
	switch name {
	case "shmmax", "shmall":
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return unix.EINVAL
		}
		if name == "shmmax" {
			l.ShmMax = v
		} else {
			l.ShmAll = v
		}
		return nil
	}
	var dst *int
	hi := math.MaxInt32
	switch name {
	case "shmmni":
		dst, hi = &l.ShmMni, IPCMNI
	case "msgmax":
		dst = &l.MsgMax
	case "msgmnb":
		dst = &l.MsgMnb
	case "msgmni":
		dst, hi = &l.MsgMni, IPCMNI
	default:
		return unix.ENOENT
	}
	v, err := intIn(f[0], hi)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
