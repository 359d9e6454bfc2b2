package nsmodel

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semctl commands (linux/sem.h).
const (
	kGetPID = 11
	kGetVal = 12
	kGetAll = 13
	kSetVal = 16
	kSetAll = 17
)

// inPrivateIPC runs f on a thread of its own in a new IPC namespace, so
// that the kernel can be compared with the model without touching the
// machine's objects or limits. The thread is never unlocked, so it dies
// with f and takes the namespace with it. f must report with t.Error, not
// t.Fatal. The test is skipped where the process may not make a
// namespace.
func inPrivateIPC(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make an IPC namespace")
	}
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err = unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			return
		}
		f()
	}()
	<-done
	if err != nil {
		t.Skipf("unshare(CLONE_NEWIPC): %v", err)
	}
}

func kSemget(key int32, nsems, flags int) (int, unix.Errno) {
	id, _, e := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags))
	return int(id), e
}

func kSemop(id int, ops []Sembuf) unix.Errno {
	var dummy Sembuf
	p := unsafe.Pointer(&dummy)
	if len(ops) > 0 {
		p = unsafe.Pointer(&ops[0])
	}
	_, _, e := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(p), uintptr(len(ops)))
	return e
}

func kSemctl(id, num, cmd int, arg uintptr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), arg, 0, 0)
	return int(r), e
}

// TestSemopAsTheKernel runs the same random operation lists, SETVALs and
// SETALLs on a kernel set and a model set, and compares every errno, and
// the values and sempids after each step.
func TestSemopAsTheKernel(t *testing.T) {
	inPrivateIPC(t, func() {
		const nsems = 3
		pid := int32(os.Getpid())
		id, e := kSemget(IPCPrivate, nsems, 0o600)
		if e != 0 {
			t.Errorf("semget: %v", e)
			return
		}
		defer kSemctl(id, 0, 0, 0) // IPC_RMID, which drops the thread's undo record
		ns := semNS(t)
		s, err := ns.Sem.Get(semRoot(), SemGet{Key: IPCPrivate, Nsems: nsems, Mode: 0o600, Create: true})
		if err != nil {
			t.Error(err)
			return
		}
		u := &SemUndo{}
		rng := rand.New(rand.NewSource(1))
		opValues := []int16{0, 0, 1, -1, 2, -2, 3, -3, 100, -100, 16000, -16000, SemVMX, -SemVMX, -SemVMX - 1}
		errnoOf := func(err error) unix.Errno {
			if err == nil {
				return 0
			}
			return err.(unix.Errno)
		}
		seen := map[unix.Errno]int{}
		for step := 0; step < 3000; step++ {
			var what string
			var kErr, mErr unix.Errno
			switch r := rng.Intn(20); {
			case r == 0:
				num, val := rng.Intn(nsems+1)-1+rng.Intn(2), rng.Intn(40000)-100
				what = fmt.Sprintf("SETVAL %d %d", num, val)
				_, kErr = kSemctl(id, num, kSetVal, uintptr(val))
				mErr = errnoOf(s.SetVal(semRoot(), pid, num, val))
			case r == 1:
				vals := make([]uint16, nsems)
				mvals := make([]int, nsems)
				for i := range vals {
					vals[i] = uint16(rng.Intn(34000))
					mvals[i] = int(vals[i])
				}
				what = fmt.Sprintf("SETALL %v", vals)
				_, kErr = kSemctl(id, 0, kSetAll, uintptr(unsafe.Pointer(&vals[0])))
				mErr = errnoOf(s.SetAll(semRoot(), pid, mvals))
			default:
				n := 1 + rng.Intn(4)
				switch rng.Intn(50) {
				case 0:
					n = 0
				case 1:
					n = 501
				}
				ops := make([]Sembuf, n)
				for i := range ops {
					ops[i] = Sembuf{
						Num: uint16(rng.Intn(nsems*10+1) / 10),
						Op:  opValues[rng.Intn(len(opValues))],
						Flg: IPCNoWait,
					}
					if rng.Intn(2) == 0 {
						ops[i].Flg |= SemUndoFlag
					}
				}
				what = fmt.Sprintf("semop %v", ops)
				kErr = kSemop(id, ops)
				mErr = errnoOf(s.Op(context.Background(), semRoot(), pid, u, SemOp{Ops: ops}))
			}
			if kErr != mErr {
				t.Errorf("step %d, %s: kernel %v, model %v", step, what, kErr, mErr)
				return
			}
			seen[kErr]++
			for num := 0; num < nsems; num++ {
				kv, e1 := kSemctl(id, num, kGetVal, 0)
				kp, e2 := kSemctl(id, num, kGetPID, 0)
				mv, _ := s.Query(semRoot(), GetVal, num)
				mp, _ := s.Query(semRoot(), GetPID, num)
				if e1 != 0 || e2 != 0 || kv != mv || kp != mp {
					t.Errorf("step %d, after %s: semaphore %d: kernel %d pid %d, model %d pid %d", step, what, num, kv, kp, mv, mp)
					return
				}
			}
		}
		t.Logf("outcomes: %v", seen)
		// The random steps must have reached every outcome.
		for _, e := range []unix.Errno{0, unix.EAGAIN, unix.ERANGE, unix.EFBIG, unix.E2BIG, unix.EINVAL} {
			if seen[e] < 5 {
				t.Errorf("only %d steps ended with %v: %v", seen[e], e, seen)
			}
		}
	})
}

// TestSemSysvipcAsTheKernel compares a line of sysvipc/sem with the one
// the kernel writes for the same set.
func TestSemSysvipcAsTheKernel(t *testing.T) {
	inPrivateIPC(t, func() {
		if _, e := kSemget(0x162e, 5, 0o640|unix.IPC_CREAT); e != 0 {
			t.Errorf("semget: %v", e)
			return
		}
		if _, e := kSemget(IPCPrivate, 2, 0o600); e != 0 {
			t.Errorf("semget: %v", e)
			return
		}
		raw, err := os.ReadFile("/proc/sysvipc/sem")
		if err != nil {
			t.Error(err)
			return
		}
		kernel := string(raw)
		lines := strings.Split(strings.TrimSuffix(kernel, "\n"), "\n")
		if len(lines) != 3 {
			t.Errorf("kernel table:\n%s", kernel)
			return
		}
		var ctime [2]int64
		for i, l := range lines[1:] {
			f := strings.Fields(l)
			fmt.Sscan(f[len(f)-1], &ctime[i])
		}
		ns := semNS(t)
		next := 0
		ns.model.Now = func() int64 { next++; return ctime[next-1] }
		for _, req := range []SemGet{{Key: 0x162e, Nsems: 5, Mode: 0o640, Create: true}, {Key: IPCPrivate, Nsems: 2, Mode: 0o600, Create: true}} {
			if _, err := ns.Sem.Get(semRoot(), req); err != nil {
				t.Error(err)
				return
			}
		}
		if got := ns.Sem.SysvipcSem(); got != kernel {
			t.Errorf("model:\n%s\nkernel:\n%s", got, kernel)
		}
	})
}
