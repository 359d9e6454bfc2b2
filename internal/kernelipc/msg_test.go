package kernelipc_test

import (
	"context"
	"testing"
	"time"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

func msgget(t *testing.T, ns *kernelipc.Namespace, key int32) int {
	t.Helper()
	id, err := ns.MsgGet(root(), key, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.MsgRmid(root(), id) })
	return id
}

func TestMsgSendReceiveCopy(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := msgget(t, ns, 0x4d5)
	ctx := context.Background()
	for i, m := range []struct {
		typ  int64
		text string
	}{{1, "one"}, {2, "two"}, {1, "three"}} {
		if err := ns.MsgSnd(ctx, root(), id, m.typ, []byte(m.text), 0); err != nil {
			t.Fatalf("msgsnd %d: %v", i, err)
		}
	}
	// MSG_COPY browses without consuming.
	for i, want := range []string{"one", "two", "three"} {
		typ, text, err := ns.MsgCopy(root(), id, int64(i), 100)
		if err != nil || string(text) != want {
			t.Errorf("MSG_COPY %d: %d %q %v", i, typ, text, err)
		}
	}
	_, _, err := ns.MsgCopy(root(), id, 3, 100)
	wantErrno(t, "MSG_COPY past the end", err, unix.ENOMSG)
	_, _, err = ns.MsgCopy(root(), id, 0, 2)
	wantErrno(t, "MSG_COPY into too small a buffer", err, unix.E2BIG)
	if ds, _ := ns.MsgStatAny(id); ds.Qnum != 3 {
		t.Errorf("qnum %d after browsing", ds.Qnum)
	}
	// msgtyp 2, then MSG_EXCEPT 1, then MSG_NOERROR truncation.
	typ, text, err := ns.MsgRcv(ctx, root(), id, 100, 2, 0)
	if err != nil || typ != 2 || string(text) != "two" {
		t.Errorf("msgrcv type 2: %d %q %v", typ, text, err)
	}
	_, _, err = ns.MsgRcv(ctx, root(), id, 100, 1, unix.IPC_NOWAIT|kernelipc.MsgExcept)
	wantErrno(t, "MSG_EXCEPT 1 with only type 1 left", err, unix.ENOMSG)
	_, _, err = ns.MsgRcv(ctx, root(), id, 2, 0, unix.IPC_NOWAIT)
	wantErrno(t, "msgrcv too small", err, unix.E2BIG)
	typ, text, err = ns.MsgRcv(ctx, root(), id, 2, 0, kernelipc.MsgNoerror)
	if err != nil || typ != 1 || string(text) != "on" {
		t.Errorf("MSG_NOERROR: %d %q %v", typ, text, err)
	}
	// Permissions are the kernel's.
	_, _, err = ns.MsgRcv(ctx, nobody(), id, 100, 0, unix.IPC_NOWAIT)
	wantErrno(t, "msgrcv by 65534", err, unix.EACCES)
	wantErrno(t, "msgsnd by 65534", ns.MsgSnd(ctx, nobody(), id, 1, []byte("x"), unix.IPC_NOWAIT), unix.EACCES)
	q := uint64(100)
	if err := ns.MsgSet(root(), id, kernelipc.SetAttr{QBytes: &q}); err != nil {
		t.Fatal(err)
	}
	if ds, err := ns.MsgStat(root(), id); err != nil || ds.Qbytes != 100 || ds.Qnum != 1 {
		t.Errorf("IPC_STAT after IPC_SET qbytes: %+v %v", ds, err)
	}
	wantErrno(t, "msgsnd past qbytes with IPC_NOWAIT", ns.MsgSnd(ctx, root(), id, 1, make([]byte, 100), unix.IPC_NOWAIT), unix.EAGAIN)
	wantErrno(t, "msgsnd of type 0", ns.MsgSnd(ctx, root(), id, 0, []byte("x"), unix.IPC_NOWAIT), unix.EINVAL)
}

// A blocking receive holds a thread until a message comes, and the end
// of its context interrupts it with EINTR.
func TestMsgBlockingReceive(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := msgget(t, ns, 0x4d6)
	type got struct {
		typ  int64
		text string
		err  error
	}
	done := make(chan got, 1)
	go func() {
		typ, text, err := ns.MsgRcv(context.Background(), root(), id, 100, 7, 0)
		done <- got{typ, string(text), err}
	}()
	eventually(t, "a receiver waits in the kernel", func() bool {
		// lrpid is not set until a receive; the waiting receiver shows
		// only as a busy pool thread.
		pool, _ := ns.Threads()
		return pool >= 1
	})
	// The sender is another thread; the receiver is woken by the kernel.
	if err := ns.MsgSnd(context.Background(), root(), id, 7, []byte("wake"), 0); err != nil {
		t.Fatal(err)
	}
	if g := <-done; g.err != nil || g.typ != 7 || g.text != "wake" {
		t.Errorf("blocked receive got %+v", g)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := ns.MsgRcv(ctx, root(), id, 100, 0, 0)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it reach the kernel (not required: the signal is repeated)
	cancel()
	wantErrno(t, "interrupted receive", <-errc, unix.EINTR)
	// Nothing was lost: a message sent now is there for the next receive.
	ns.MsgSnd(context.Background(), root(), id, 1, []byte("after"), 0)
	if _, text, err := ns.MsgRcv(context.Background(), root(), id, 100, 0, unix.IPC_NOWAIT); err != nil || string(text) != "after" {
		t.Errorf("after the interrupt: %q %v", text, err)
	}
}
