package fs

import (
	"encoding/binary"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/shmfs/shmfs/nsmodel"
)

const (
	wUndo   = nsmodel.SemUndoFlag
	wNowait = nsmodel.IPCNoWait
)

func TestParseSemopText(t *testing.T) {
	for _, c := range []struct {
		in      string
		ops     []nsmodel.Sembuf
		timed   bool
		timeout time.Duration
	}{
		{"0 -1", []nsmodel.Sembuf{sb(0, -1, 0)}, false, 0},
		{"0 -1\n", []nsmodel.Sembuf{sb(0, -1, 0)}, false, 0},
		{" 3\t+2 SEM_UNDO ", []nsmodel.Sembuf{sb(3, 2, wUndo)}, false, 0},
		{"0 -1 SEM_UNDO|IPC_NOWAIT;1 0 IPC_NOWAIT SEM_UNDO", []nsmodel.Sembuf{sb(0, -1, wUndo|wNowait), sb(1, 0, wUndo|wNowait)}, false, 0},
		{"65535 -32768\n\n;;0 32767\r\n", []nsmodel.Sembuf{sb(65535, -32768, 0), sb(0, 32767, 0)}, false, 0},
		{"0 -1; timeout=1.5", []nsmodel.Sembuf{sb(0, -1, 0)}, true, 1500 * time.Millisecond},
		{"timeout=0\n0 0", []nsmodel.Sembuf{sb(0, 0, 0)}, true, 0},
		{"0 1; timeout=0.000000001", []nsmodel.Sembuf{sb(0, 1, 0)}, true, 1},
		{"0 1; timeout=-2", []nsmodel.Sembuf{sb(0, 1, 0)}, true, badTimeout},
		{"0 1; timeout=99999999999999", []nsmodel.Sembuf{sb(0, 1, 0)}, true, math.MaxInt64},
		{";\n", nil, false, 0},
	} {
		req, err := parseSemop([]byte(c.in), nil)
		if err != nil || fmt.Sprint(req.Ops) != fmt.Sprint(c.ops) || req.Timed != c.timed || req.Timeout != c.timeout {
			t.Errorf("%q: %+v, %v; want %v timed %v %v", c.in, req, err, c.ops, c.timed, c.timeout)
		}
	}
	for _, in := range []string{
		"0", "x 1", "0 x", "0 1 2", "-1 1", "65536 1", "0 32768", "0 -32769", "0 --1", "0 1 SEM_UNDO|",
		"0 1 |SEM_UNDO", "0 1 SEM_UNDO||IPC_NOWAIT", "0 1 undo", "timeout=1 0 1", "timeout=1; timeout=1; 0 1",
		"0 1; timeout=", "0 1; timeout=.5", "0 1; timeout=1.", "0 1; timeout=1.0000000001", "0 1; timeout=+1",
		"0 1; timeout=1.-5", "0 1; timeout=1s", "1 2 3 4;",
	} {
		if _, err := parseSemop([]byte(in), nil); err != syscall.EINVAL {
			t.Errorf("%q: %v, want EINVAL", in, err)
		}
	}
}

func sb(num uint16, op, flg int16) nsmodel.Sembuf {
	return nsmodel.Sembuf{Num: num, Op: op, Flg: flg}
}

// semBinary lays out the binary form.
func semBinary(flags uint32, sec, nsec int64, ops ...nsmodel.Sembuf) []byte {
	b := []byte(semMagic)
	b = binary.NativeEndian.AppendUint32(b, flags)
	b = binary.NativeEndian.AppendUint64(b, uint64(sec))
	b = binary.NativeEndian.AppendUint64(b, uint64(nsec))
	for _, o := range ops {
		b = binary.NativeEndian.AppendUint16(b, o.Num)
		b = binary.NativeEndian.AppendUint16(b, uint16(o.Op))
		b = binary.NativeEndian.AppendUint16(b, uint16(o.Flg))
	}
	return b
}

func TestParseSemopBinary(t *testing.T) {
	ops := []nsmodel.Sembuf{sb(0, -1, wUndo), sb(65535, 32767, 0x7fff), sb(2, -32768, wNowait)}
	req, err := parseSemop(semBinary(0, 5, 5, ops...), nil)
	if err != nil || fmt.Sprint(req.Ops) != fmt.Sprint(ops) || req.Timed {
		t.Errorf("semop: %+v, %v", req, err)
	}
	for _, c := range []struct {
		sec, nsec int64
		want      time.Duration
	}{
		{0, 0, 0}, {2, 500, 2*time.Second + 500}, {-1, 0, badTimeout}, {0, -1, badTimeout},
		{0, 1e9, badTimeout}, {math.MaxInt64, 0, math.MaxInt64},
	} {
		req, err := parseSemop(semBinary(semTimedFlag, c.sec, c.nsec, ops[0]), nil)
		if err != nil || !req.Timed || req.Timeout != c.want {
			t.Errorf("timespec %d.%d: %+v, %v; want %v", c.sec, c.nsec, req, err, c.want)
		}
	}
	req, err = parseSemop(semBinary(0, 0, 0), nil)
	if err != nil || len(req.Ops) != 0 {
		t.Errorf("no ops: %+v, %v (the model refuses it)", req, err)
	}
	good := semBinary(0, 0, 0, ops[0])
	for what, in := range map[string][]byte{
		"short header":  good[:20],
		"torn sembuf":   good[:len(good)-1],
		"bad magic":     append([]byte("\x00SEX"), good[4:]...),
		"unknown flags": semBinary(2, 0, 0, ops[0]),
	} {
		if _, err := parseSemop(in, nil); err != syscall.EINVAL {
			t.Errorf("%s: %v, want EINVAL", what, err)
		}
	}
}

// TestParseSemopAllocates nothing for a usual write: the operations go
// to a buffer on the caller's stack.
func TestParseSemopAllocates(t *testing.T) {
	text := []byte("0 -1 SEM_UNDO; 1 +1; timeout=0.5")
	bin := semBinary(semTimedFlag, 1, 0, sb(0, -1, wUndo))
	n := testing.AllocsPerRun(100, func() {
		var buf [semFastOps]nsmodel.Sembuf
		if _, err := parseSemop(text, buf[:0]); err != nil {
			t.Fatal(err)
		}
		if _, err := parseSemop(bin, buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}
