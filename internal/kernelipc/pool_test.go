package kernelipc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

// Blocked receivers hold threads up to the bounds; past them a receiver
// polls without a thread and still gets its message, and short calls are
// served meanwhile.
func TestPoolBounds(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{Threads: 4, Blockers: 3, BlockersPerUID: 2, PollInterval: 5 * time.Millisecond})
	id := msgget(t, ns, 0x9001)
	mode := uint32(0o666)
	ns.MsgSet(root(), id, kernelipc.SetAttr{Mode: &mode})
	var wg sync.WaitGroup
	got := make(chan string, 6)
	recv := func(c *kernelipc.Cred, typ int64) {
		defer wg.Done()
		_, text, err := ns.MsgRcv(context.Background(), c, id, 100, typ, 0)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(text)
	}
	// Three receivers of uid 0 (two hold threads, one polls), two of uid
	// 65534 (one holds the last blocker place, one polls).
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go recv(root(), int64(i))
	}
	for i := 4; i <= 5; i++ {
		wg.Add(1)
		go recv(nobody(), int64(i))
	}
	eventually(t, "three blockers hold threads", func() bool { p, _ := ns.Threads(); return p >= 3 })
	// Short calls still get a thread.
	for i := 0; i < 20; i++ {
		if _, err := ns.MsgStat(root(), id); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := ns.Threads(); p > 4 {
		t.Errorf("%d pool threads past the bound 4", p)
	}
	for i := 1; i <= 5; i++ {
		if err := ns.MsgSnd(context.Background(), root(), id, int64(i), []byte(fmt.Sprint("m", i)), unix.IPC_NOWAIT); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for s := range got {
		seen[s] = true
	}
	for i := 1; i <= 5; i++ {
		if !seen[fmt.Sprint("m", i)] {
			t.Errorf("receiver %d did not get its message: %v", i, seen)
		}
	}
	// A polling receiver is interrupted too.
	ns2ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { _, _, err := ns.MsgRcv(ns2ctx, root(), id, 100, 99, 0); errs <- err }()
	}
	eventually(t, "two blockers", func() bool { p, _ := ns.Threads(); return p >= 2 })
	cancel()
	for i := 0; i < 3; i++ {
		wantErrno(t, "interrupted receiver", <-errs, unix.EINTR)
	}
}

// Idle threads end; a namespace's pool is made again on demand.
func TestPoolIdleEnd(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{Idle: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); ns.ListShm(root()) }()
	}
	wg.Wait()
	if p, _ := ns.Threads(); p < 1 {
		t.Fatalf("%d threads after calls", p)
	}
	eventually(t, "idle threads end", func() bool { p, _ := ns.Threads(); return p == 0 })
	if _, err := ns.ListShm(root()); err != nil {
		t.Fatal(err)
	}
}
