package fs

import (
	"bytes"
	"encoding/binary"
	"math"
	"syscall"
	"time"

	"github.com/shmfs/shmfs/nsmodel"
)

// A write to a set's file is one semop or semtimedop, in one of two
// forms.
//
// Text, for the shell: operations separated by ';' or newlines, each
// "sem_num sem_op [flag...]" with the flags SEM_UNDO and IPC_NOWAIT
// separated by blanks or '|'; a clause "timeout=SECONDS" (decimal, up to
// nine fractional digits) makes it a semtimedop. Empty clauses are
// skipped.
//
//	0 -1 SEM_UNDO
//	0 -1; 1 +1 IPC_NOWAIT|SEM_UNDO; timeout=0.5
//
// Binary, for programs: the header struct shmfs_semop, then nsops struct
// sembuf, all in host byte order:
//
//	struct shmfs_semop {
//		char     magic[4];  /* "\0SEM": a text write never holds a NUL */
//		uint32_t flags;     /* SHMFS_SEM_TIMED (1): the timeout applies */
//		int64_t  tv_sec;    /* the semtimedop timeout */
//		int64_t  tv_nsec;
//		struct sembuf sops[];  /* nsops = (length - 24) / 6 */
//	};
const (
	semMagic      = "\x00SEM"
	semHeaderSize = 24
	sembufSize    = 6
	semTimedFlag  = 1
)

var (
	timeoutPrefix = []byte("timeout=")
	bar           = []byte("|")
	dot           = []byte(".")
)

// semFastOps is how many operations a write parses without allocating.
const semFastOps = 16

// badTimeout stands for a timespec that semtimedop refuses: the model
// fails it with EINVAL once it has checked the number of operations, in
// the kernel's order.
const badTimeout = -1

// parseSemop reads one write into a semop whose operations are appended
// to ops. Malformed input is EINVAL.
func parseSemop(data []byte, ops []nsmodel.Sembuf) (nsmodel.SemOp, error) {
	if len(data) > 0 && data[0] == 0 {
		return parseSemopBinary(data, ops)
	}
	return parseSemopText(data, ops)
}

func parseSemopBinary(data []byte, ops []nsmodel.Sembuf) (nsmodel.SemOp, error) {
	var req nsmodel.SemOp
	if len(data) < semHeaderSize || string(data[:4]) != semMagic || (len(data)-semHeaderSize)%sembufSize != 0 {
		return req, syscall.EINVAL
	}
	ne := binary.NativeEndian
	flags := ne.Uint32(data[4:])
	if flags&^semTimedFlag != 0 {
		return req, syscall.EINVAL
	}
	if flags&semTimedFlag != 0 {
		req.Timed = true
		req.Timeout = timespec(int64(ne.Uint64(data[8:])), int64(ne.Uint64(data[16:])))
	}
	for b := data[semHeaderSize:]; len(b) > 0; b = b[sembufSize:] {
		ops = append(ops, nsmodel.Sembuf{Num: ne.Uint16(b), Op: int16(ne.Uint16(b[2:])), Flg: int16(ne.Uint16(b[4:]))})
	}
	req.Ops = ops
	return req, nil
}

// timespec converts a semtimedop timeout as timespec64_valid judges it.
func timespec(sec, nsec int64) time.Duration {
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return badTimeout
	}
	if sec > (math.MaxInt64-nsec)/1e9 {
		return math.MaxInt64
	}
	return time.Duration(sec*1e9 + nsec)
}

func parseSemopText(data []byte, ops []nsmodel.Sembuf) (nsmodel.SemOp, error) {
	var req nsmodel.SemOp
	for len(data) > 0 {
		end := bytes.IndexAny(data, ";\n")
		if end < 0 {
			end = len(data)
		}
		clause := data[:end]
		data = data[min(end+1, len(data)):]

		tok, rest := field(clause)
		if tok == nil {
			continue
		}
		if v, ok := bytes.CutPrefix(tok, timeoutPrefix); ok {
			if more, _ := field(rest); more != nil || req.Timed {
				return req, syscall.EINVAL
			}
			d, err := parseSeconds(v)
			if err != nil {
				return req, err
			}
			req.Timed, req.Timeout = true, d
			continue
		}
		num, ok := parseInt(tok, 0, math.MaxUint16)
		if !ok {
			return req, syscall.EINVAL
		}
		tok, rest = field(rest)
		val, ok := parseInt(tok, math.MinInt16, math.MaxInt16)
		if !ok {
			return req, syscall.EINVAL
		}
		var flg int16
		for tok, rest = field(rest); tok != nil; tok, rest = field(rest) {
			for len(tok) > 0 {
				f, more, _ := bytes.Cut(tok, bar)
				switch string(f) {
				case "SEM_UNDO":
					flg |= nsmodel.SemUndoFlag
				case "IPC_NOWAIT":
					flg |= nsmodel.IPCNoWait
				default:
					return req, syscall.EINVAL
				}
				if len(more) == 0 && len(f) < len(tok) {
					return req, syscall.EINVAL // a trailing '|'
				}
				tok = more
			}
		}
		ops = append(ops, nsmodel.Sembuf{Num: uint16(num), Op: int16(val), Flg: flg})
	}
	req.Ops = ops
	return req, nil
}

// field splits the first blank-separated word off b; nil when there is
// none.
func field(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if i == j {
		return nil, nil
	}
	return b[i:j], b[j:]
}

// parseInt reads a decimal integer with an optional sign, within
// [lo, hi].
func parseInt(b []byte, lo, hi int64) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, v >= lo && v <= hi
}

// parseSeconds reads the timeout of a text write: decimal seconds with
// at most nine fractional digits. A negative one is a timespec the kernel
// refuses.
func parseSeconds(b []byte) (time.Duration, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	whole, frac, point := bytes.Cut(b, dot)
	sec, ok := parseInt(whole, 0, math.MaxInt64)
	if !ok || whole[0] == '+' || len(frac) > 9 || (point && len(frac) == 0) {
		return 0, syscall.EINVAL
	}
	var nsec int64
	if len(frac) > 0 {
		n, ok := parseInt(frac, 0, 999999999)
		if !ok || frac[0] == '+' || frac[0] == '-' {
			return 0, syscall.EINVAL
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	if neg {
		return badTimeout, nil
	}
	return timespec(sec, nsec), nil
}
