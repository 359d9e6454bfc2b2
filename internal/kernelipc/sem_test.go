package kernelipc_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

func semget(t *testing.T, ns *kernelipc.Namespace, key int32, n int) int {
	t.Helper()
	id, err := ns.SemGet(root(), key, n, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.SemRmid(root(), id) })
	return id
}

func TestSemOpsAndCtl(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := semget(t, ns, 0x5e5, 3)
	ctx := context.Background()
	if err := ns.SemSetAll(root(), id, []uint16{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "SETALL of the wrong length", ns.SemSetAll(root(), id, []uint16{1}), unix.EINVAL)
	if err := ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -1}, {Num: 2, Op: 4}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	vals, err := ns.SemGetAll(root(), id)
	if err != nil || len(vals) != 3 || vals[0] != 0 || vals[1] != 2 || vals[2] != 7 {
		t.Errorf("GETALL %v %v", vals, err)
	}
	if _, err := ns.SemCtl(root(), id, 1, kernelipc.SetVal, 9); err != nil {
		t.Fatal(err)
	}
	if v, err := ns.SemCtl(root(), id, 1, kernelipc.GetVal, 0); err != nil || v != 9 {
		t.Errorf("GETVAL %d %v", v, err)
	}
	// GETPID is the server's pid: the call was made by one of its threads.
	if v, _ := ns.SemCtl(root(), id, 0, kernelipc.GetPid, 0); v != os.Getpid() {
		t.Errorf("GETPID %d, want the server %d", v, os.Getpid())
	}
	wantErrno(t, "semop by 65534", ns.Semop(ctx, nobody(), id, []kernelipc.Sembuf{{Op: 1}}, nil, nil), unix.EACCES)
	wantErrno(t, "semop that would block, IPC_NOWAIT", ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -1, Flg: unix.IPC_NOWAIT}}, nil, nil), unix.EAGAIN)
	wantErrno(t, "SETVAL past SEMVMX", func() error { _, err := ns.SemCtl(root(), id, 0, kernelipc.SetVal, 40000); return err }(), unix.ERANGE)
	wantErrno(t, "semop on a semaphore past nsems", ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 3, Op: 1}}, nil, nil), unix.EFBIG)

	// A blocked semop counts in GETNCNT, and is woken by another.
	done := make(chan error, 1)
	go func() { done <- ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -2}}, nil, nil) }()
	eventually(t, "GETNCNT 1", func() bool {
		v, _ := ns.SemCtl(root(), id, 0, kernelipc.GetNcnt, 0)
		return v == 1
	})
	if err := ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: 2}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("woken semop: %v", err)
	}
	// semtimedop's timeout is the kernel's EAGAIN.
	d := 30 * time.Millisecond
	wantErrno(t, "semtimedop timeout", ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -1}}, &d, nil), unix.EAGAIN)
	// A wait for zero is interrupted by the caller.
	c2, cancel := context.WithCancel(ctx)
	go func() { done <- ns.Semop(c2, root(), id, []kernelipc.Sembuf{{Num: 1, Op: 0}}, nil, nil) }()
	eventually(t, "GETZCNT 1", func() bool {
		v, _ := ns.SemCtl(root(), id, 1, kernelipc.GetZcnt, 0)
		return v == 1
	})
	cancel()
	wantErrno(t, "interrupted semop", <-done, unix.EINTR)
	if v, _ := ns.SemCtl(root(), id, 1, kernelipc.GetZcnt, 0); v != 0 {
		t.Errorf("GETZCNT %d after the interrupt", v)
	}
	mode := uint32(0o666)
	if err := ns.SemSet(root(), id, kernelipc.SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Semop(ctx, nobody(), id, []kernelipc.Sembuf{{Op: 1}}, nil, nil); err != nil {
		t.Errorf("semop by 65534 after chmod 666: %v", err)
	}
	wantErrno(t, "IPC_RMID by 65534", ns.SemRmid(nobody(), id), unix.EPERM)
}

// A handle's SEM_UNDO adjustments are the kernel's, kept on the handle's
// own thread and applied when the handle is closed; other handles' are
// theirs.
func TestSemUndo(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{UndoPerUID: 2})
	id := semget(t, ns, 0x5e6, 2)
	ctx := context.Background()
	_, err := ns.SemCtl(root(), id, 0, kernelipc.SetVal, 5)
	if err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "SEM_UNDO without a handle thread", ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Op: -1, Flg: kernelipc.SemUndo}}, nil, nil), unix.EINVAL)
	u1, err := ns.NewUndo(root())
	if err != nil {
		t.Fatal(err)
	}
	u2, err := ns.NewUndo(root())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.NewUndo(root()); err != unix.ENOMEM {
		t.Errorf("a third SEM_UNDO thread for one uid past UndoPerUID 2: %v, want ENOMEM", err)
	}
	if _, undo := ns.Threads(); undo != 2 {
		t.Errorf("undo threads %d", undo)
	}
	ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -2, Flg: kernelipc.SemUndo}, {Num: 1, Op: 3, Flg: kernelipc.SemUndo}}, nil, u1)
	ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 0, Op: -1, Flg: kernelipc.SemUndo}}, nil, u2)
	ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Num: 1, Op: 1}}, nil, u2) // no undo: stays
	if v, _ := ns.SemGetAll(root(), id); v[0] != 2 || v[1] != 4 {
		t.Fatalf("values %v", v)
	}
	if err := u1.Close(); err != nil {
		t.Fatal(err)
	}
	if v, _ := ns.SemGetAll(root(), id); v[0] != 4 || v[1] != 1 {
		t.Errorf("after the first handle's release: %v, want [4 1]", v)
	}
	if err := u2.Close(); err != nil {
		t.Fatal(err)
	}
	if v, _ := ns.SemGetAll(root(), id); v[0] != 5 || v[1] != 1 {
		t.Errorf("after the second: %v, want [5 1]", v)
	}
	if _, undo := ns.Threads(); undo != 0 {
		t.Errorf("undo threads %d after both closed", undo)
	}
	// An undo of a removed set is skipped, as at exit.
	u3, _ := ns.NewUndo(root())
	ns.Semop(ctx, root(), id, []kernelipc.Sembuf{{Op: 1, Flg: kernelipc.SemUndo}}, nil, u3)
	ns.SemRmid(root(), id)
	if err := u3.Close(); err != nil {
		t.Errorf("closing after IPC_RMID: %v", err)
	}
	// And a process's own semop with SEM_UNDO in the test thread is not
	// touched by any of this.
}
