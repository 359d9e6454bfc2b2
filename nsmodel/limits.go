package nsmodel

import (
	"fmt"
	"math"

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

// Format renders one limit as /proc/sys/kernel/<name> does: one decimal
// number and a newline, or for sem four numbers separated by tabs.
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

// Parse sets limits from what one write at offset 0 of
// /proc/sys/kernel/<name> holds, read as the handlers of
// ipc/ipc_sysctl.c read it:
//
//   - shmmax, shmall (proc_doulongvec_minmax): an unsigned long; any
//     minus sign is EINVAL.
//   - shmmni, msgmni (proc_dointvec_minmax): an int in [0, 32768].
//   - msgmax, msgmnb (proc_dointvec_minmax): an int in [0, INT_MAX].
//   - sem (proc_ipc_sem_dointvec): up to four ints, negative ones
//     included, that replace semmsl, semmns, semopm, semmni in that
//     order; ERANGE when semmni ends up outside [0, 32768].
//
// Numbers are read as strtoul with base 0 reads them (0x hex, leading 0
// octal), after any run of white space; a number must be followed by a
// blank, a tab, a newline or the end, and may not be 21 characters long.
// Once a file's values are read the rest of the write is ignored (the
// kernel returns a short count, and ignores the retry at a non-zero
// offset). An empty write changes nothing and succeeds; a write with no
// number in it is EINVAL.
//
// Where the kernel stores the values it read before one it rejects, Parse
// changes nothing: a bad write is refused whole.
func (l *Limits) Parse(name, text string) error {
	if text == "" {
		return nil
	}
	next := *l
	var err error
	switch name {
	case "shmmax":
		err = sysctlVec(text, 1, ulongConv(&next.ShmMax))
	case "shmall":
		err = sysctlVec(text, 1, ulongConv(&next.ShmAll))
	case "shmmni":
		err = sysctlVec(text, 1, intConv(&next.ShmMni, 0, IPCMNI))
	case "msgmni":
		err = sysctlVec(text, 1, intConv(&next.MsgMni, 0, IPCMNI))
	case "msgmax":
		err = sysctlVec(text, 1, intConv(&next.MsgMax, 0, math.MaxInt32))
	case "msgmnb":
		err = sysctlVec(text, 1, intConv(&next.MsgMnb, 0, math.MaxInt32))
	case "sem":
		sem := [4]*int{&next.SemMsl, &next.SemMns, &next.SemOpm, &next.SemMni}
		err = sysctlVec(text, 4, func(i int, neg bool, v uint64) error {
			return intConv(sem[i], math.MinInt32, math.MaxInt32)(0, neg, v)
		})
		if err == nil && (next.SemMni < 0 || next.SemMni > IPCMNI) {
			err = unix.ERANGE // sem_check_semmni
		}
	default:
		return unix.ENOENT
	}
	if err != nil {
		return err
	}
	*l = next
	return nil
}

// sysctlConv stores the i'th value of a vector: a magnitude and whether a
// minus sign preceded it.
type sysctlConv func(i int, neg bool, v uint64) error

// ulongConv is the conversion of proc_doulongvec_minmax without bounds.
func ulongConv(dst *uint64) sysctlConv {
	return func(_ int, neg bool, v uint64) error {
		if neg {
			return unix.EINVAL
		}
		*dst = v
		return nil
	}
}

// intConv is do_proc_dointvec_minmax_conv: the value must fit an int and
// lie in [lo, hi].
func intConv(dst *int, lo, hi int64) sysctlConv {
	return func(_ int, neg bool, v uint64) error {
		var n int64
		switch {
		case !neg && v <= math.MaxInt32:
			n = int64(v)
		case neg && v <= math.MaxInt32+1:
			n = -int64(v)
		default:
			return unix.EINVAL
		}
		if n < lo || n > hi {
			return unix.EINVAL
		}
		*dst = int(n)
		return nil
	}
}

// sysctlVec is the write half of __do_proc_dointvec and
// __do_proc_doulongvec_minmax: up to n values separated by white space.
func sysctlVec(text string, n int, conv sysctlConv) error {
	if max := int(PageSize) - 1; len(text) > max {
		text = text[:max]
	}
	read := 0
	for i := 0; i < n && text != ""; i++ {
		text = skipSysctlSpaces(text)
		if text == "" {
			break
		}
		neg, v, rest, err := sysctlLong(text)
		if err != nil {
			return err
		}
		if err := conv(i, neg, v); err != nil {
			return err
		}
		text = rest
		read++
	}
	if read == 0 {
		return unix.EINVAL
	}
	return nil
}

// skipSysctlSpaces is proc_skip_spaces: isspace in the kernel's ctype.
func skipSysctlSpaces(s string) string {
	for s != "" && (s[0] == ' ' || s[0] >= '\t' && s[0] <= '\r') {
		s = s[1:]
	}
	return s
}

// sysctlNumMax is TMPBUFLEN - 1: proc_get_long looks at no more than this
// many characters, and refuses a number that fills them.
const sysctlNumMax = 21

// sysctlLong is proc_get_long with the trailers " \t\n": an optional
// minus sign and a number in the base strtoul's base 0 picks.
func sysctlLong(s string) (neg bool, v uint64, rest string, err error) {
	tmp := s
	if len(tmp) > sysctlNumMax {
		tmp = tmp[:sysctlNumMax]
	}
	p := 0
	if tmp[0] == '-' && len(s) > 1 {
		neg = true
		p++
	}
	if p >= len(tmp) || tmp[p] < '0' || tmp[p] > '9' {
		return false, 0, "", unix.EINVAL
	}
	base := uint64(10)
	if tmp[p] == '0' {
		base = 8
		if p+2 < len(tmp) && tmp[p+1]|0x20 == 'x' && digitValue(tmp[p+2]) < 16 {
			base = 16
			p += 2
		}
	}
	for ; p < len(tmp); p++ {
		d := digitValue(tmp[p])
		if d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			return false, 0, "", unix.EINVAL // strtoul_lenient: ERANGE
		}
		v = v*base + d
	}
	if p == sysctlNumMax {
		return false, 0, "", unix.EINVAL
	}
	if p < len(s) && s[p] != ' ' && s[p] != '\t' && s[p] != '\n' {
		return false, 0, "", unix.EINVAL
	}
	return neg, v, s[p:], nil
}

// digitValue is the value of a hex digit, or 16 for anything else.
func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10
	}
	return 16
}
