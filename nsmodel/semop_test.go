package nsmodel

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	undo   = SemUndoFlag
	nowait = IPCNoWait
)

// op runs one semop as semOwner that must not block.
func op(t *testing.T, s *Sem, u *SemUndo, ops ...Sembuf) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Op(context.Background(), semOwner(), 1100, u, SemOp{Ops: ops}) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("semop %v blocked", ops)
		return nil
	}
}

// pending is a semop started in the background.
type pending struct {
	ops  []Sembuf
	done chan error
}

// sleep starts a semop that is expected to block, and returns once it
// waits in the set's queue.
func sleep(t *testing.T, ctx context.Context, s *Sem, u *SemUndo, req SemOp) *pending {
	t.Helper()
	before := queued(s)
	p := &pending{ops: req.Ops, done: make(chan error, 1)}
	go func() { p.done <- s.Op(ctx, semOwner(), 1100, u, req) }()
	deadline := time.Now().Add(10 * time.Second)
	for queued(s) != before+1 {
		select {
		case err := <-p.done:
			t.Fatalf("semop %v did not block: %v", req.Ops, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("semop %v never queued", req.Ops)
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

func sleepOps(t *testing.T, s *Sem, ops ...Sembuf) *pending {
	t.Helper()
	return sleep(t, context.Background(), s, nil, SemOp{Ops: ops})
}

// queued counts the waiters of a set.
func queued(s *Sem) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range []*waitQueue{&s.pendingConst, &s.pendingAlter} {
		for w := q.head; w != nil; w = w.next {
			n++
		}
	}
	return n
}

// result waits for a pending semop to end.
func (p *pending) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("semop %v still blocked", p.ops)
		return nil
	}
}

// still checks that a pending semop has not ended. Every wake-up happens
// under the set's lock before the waker returns, so this is exact.
func (p *pending) still(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		t.Fatalf("semop %v ended: %v", p.ops, err)
	default:
	}
}

func TestSemopErrors(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	u := &SemUndo{}
	semWant(t, "no ops", op(t, s, nil), unix.EINVAL)
	semWant(t, "sem_num past nsems", op(t, s, nil, Sembuf{0, 1, 0}, Sembuf{2, 1, 0}), unix.EFBIG)
	semWant(t, "negative timeout", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: []Sembuf{{0, 1, 0}}, Timed: true, Timeout: -1}), unix.EINVAL)
	semWant(t, "past SEMVMX", op(t, s, nil, Sembuf{0, 1, 0}, Sembuf{1, SemVMX, 0}, Sembuf{1, 1, 0}), unix.ERANGE)
	semWant(t, "IPC_NOWAIT", op(t, s, nil, Sembuf{0, 1, 0}, Sembuf{1, -1, nowait}), unix.EAGAIN)
	semWant(t, "wait for zero IPC_NOWAIT", op(t, s, nil, Sembuf{0, 1, 0}, Sembuf{0, 0, nowait}), unix.EAGAIN)
	wantValues(t, "refused ops apply nothing", s, 0, 0)

	// An operation list may use one semaphore several times; each
	// operation sees the ones before it.
	semWant(t, "up then down", op(t, s, nil, Sembuf{0, 2, 0}, Sembuf{0, -1, 0}, Sembuf{1, 1, 0}), nil)
	wantValues(t, "up then down", s, 1, 1)
	semWant(t, "down past zero in one list", op(t, s, nil, Sembuf{0, -1, 0}, Sembuf{0, -1, nowait}), unix.EAGAIN)
	wantValues(t, "after refusal", s, 1, 1)

	// semadj must stay in [-SEMAEM-1, SEMAEM].
	semWant(t, "undo of SEMVMX", op(t, s, u, Sembuf{1, SemVMX - 1, undo}), nil)
	semWant(t, "drain", op(t, s, nil, Sembuf{1, -SemVMX, 0}), nil)
	semWant(t, "undo at -SEMAEM-1", op(t, s, u, Sembuf{1, 2, undo}), nil)
	semWant(t, "drain", op(t, s, nil, Sembuf{1, -2, 0}), nil)
	semWant(t, "undo past -SEMAEM-1", op(t, s, u, Sembuf{0, 1, 0}, Sembuf{1, 1, undo}), unix.ERANGE)
	wantValues(t, "after undo range refusal", s, 1, 0)
	if u.adj[1] != -SemAEM-1 {
		t.Errorf("semadj %d, want %d", u.adj[1], -SemAEM-1)
	}

	// A reader may wait for zero but not alter.
	mode := uint32(0o604)
	if err := ns.Sem.Set(semOwner(), s, SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	other := NewFixedCred(4000, 4000, 4400, nil, 0)
	semWant(t, "alter by reader", s.Op(t.Context(), other, 1, nil, SemOp{Ops: []Sembuf{{0, 1, 0}}}), unix.EACCES)
	semWant(t, "zero by reader", s.Op(t.Context(), other, 1, nil, SemOp{Ops: []Sembuf{{1, 0, 0}}}), nil)
	semWant(t, "EFBIG before EACCES", s.Op(t.Context(), other, 1, nil, SemOp{Ops: []Sembuf{{9, 1, 0}}}), unix.EFBIG)
}

func TestSemopTimes(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 1, 0o600)
	if err := op(t, s, nil, Sembuf{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	st := s.table.Stat(s)
	if st.Otime <= st.Ctime {
		t.Errorf("otime %d not set past ctime %d", st.Otime, st.Ctime)
	}
	if pid, _ := s.Query(semOwner(), GetPID, 0); pid != 1100 {
		t.Errorf("sempid %d, want 1100", pid)
	}
	op(t, s, nil, Sembuf{0, 1, nowait}, Sembuf{0, -5, nowait})
	if s.table.Stat(s).Otime != st.Otime {
		t.Errorf("a refused semop moved otime")
	}
}

func TestSemopBlocksAndWakesInOrder(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 1, 0o600)
	a := sleepOps(t, s, Sembuf{0, -1, 0})
	b := sleepOps(t, s, Sembuf{0, -2, 0})
	c := sleepOps(t, s, Sembuf{0, -1, 0})
	if n, _ := s.Query(semOwner(), GetNcnt, 0); n != 3 {
		t.Errorf("GETNCNT %d, want 3", n)
	}
	// One unit goes to the first waiter that can use it.
	if err := op(t, s, nil, Sembuf{0, 1, 0}); err != nil {
		t.Fatal(err)
	}
	semWant(t, "first waiter", a.result(t), nil)
	b.still(t)
	c.still(t)
	wantValues(t, "after first wake", s, 0)
	// One unit: b cannot use it, c, behind it, can.
	op(t, s, nil, Sembuf{0, 1, 0})
	semWant(t, "third waiter", c.result(t), nil)
	b.still(t)
	op(t, s, nil, Sembuf{0, 2, 0})
	semWant(t, "second waiter", b.result(t), nil)
	wantValues(t, "all served", s, 0)
	if n, _ := s.Query(semOwner(), GetNcnt, 0); n != 0 {
		t.Errorf("GETNCNT %d, want 0", n)
	}
}

func TestSemopWaitForZero(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{0, 2, 0})
	z := sleepOps(t, s, Sembuf{0, 0, 0})
	// A complex one counts once, on the operation it waits on.
	z2 := sleepOps(t, s, Sembuf{1, 0, 0}, Sembuf{0, 0, 0})
	for num, want := range []int{2, 0} {
		if n, _ := s.Query(semOwner(), GetZcnt, num); n != want {
			t.Errorf("GETZCNT %d = %d, want %d", num, n, want)
		}
	}
	op(t, s, nil, Sembuf{0, -1, 0})
	z.still(t)
	op(t, s, nil, Sembuf{0, -1, 0})
	semWant(t, "wait for zero", z.result(t), nil)
	semWant(t, "complex wait for zero", z2.result(t), nil)
}

// TestSemopZeroWaitersFirst: after a change, waiters for zero are served
// before waiters that alter, so that a value passing through zero wakes
// them, as in the kernel's do_smart_update.
func TestSemopZeroWaitersFirst(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{0, 1, 0})
	alter := sleepOps(t, s, Sembuf{1, -1, 0}, Sembuf{0, 1, 0})
	zero := sleepOps(t, s, Sembuf{0, 0, 0})
	op(t, s, nil, Sembuf{0, -1, 0}, Sembuf{1, 1, 0})
	semWant(t, "zero waiter", zero.result(t), nil)
	semWant(t, "alter waiter", alter.result(t), nil)
	wantValues(t, "end", s, 1, 0)
}

// TestSemopRetriesFromTheStart: a waiter that completes changes the
// values for the ones queued before it, which are tried again.
func TestSemopRetriesFromTheStart(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{0, 1, 0})
	first := sleepOps(t, s, Sembuf{0, -2, 0})
	second := sleepOps(t, s, Sembuf{1, -1, 0}, Sembuf{0, 1, 0})
	op(t, s, nil, Sembuf{1, 1, 0})
	semWant(t, "second", second.result(t), nil)
	semWant(t, "first, after second gave it a unit", first.result(t), nil)
	wantValues(t, "end", s, 0, 0)
}

// TestSemopAtomicWhileWaiting: a waiter takes nothing until all its
// operations can apply together.
func TestSemopAtomicWhileWaiting(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	w := sleepOps(t, s, Sembuf{0, -1, 0}, Sembuf{1, -1, 0})
	op(t, s, nil, Sembuf{0, 1, 0})
	w.still(t)
	wantValues(t, "half available", s, 1, 0)
	// Others may take what the waiter cannot use yet.
	semWant(t, "other taker", op(t, s, nil, Sembuf{0, -1, nowait}), nil)
	op(t, s, nil, Sembuf{0, 1, 0}, Sembuf{1, 1, 0})
	semWant(t, "both available", w.result(t), nil)
	wantValues(t, "end", s, 0, 0)
}

// TestSemopWaiterFails: a waiter retried after a change may now fail,
// and is woken with the error and nothing applied.
func TestSemopWaiterFails(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{1, SemVMX - 5, 0})
	rng := sleepOps(t, s, Sembuf{0, -1, 0}, Sembuf{1, 10, 0})
	again := sleepOps(t, s, Sembuf{0, -1, 0}, Sembuf{0, -1, nowait})
	op(t, s, nil, Sembuf{0, 1, 0})
	semWant(t, "retried past SEMVMX", rng.result(t), unix.ERANGE)
	semWant(t, "retried into IPC_NOWAIT", again.result(t), unix.EAGAIN)
	wantValues(t, "nothing taken", s, 1, SemVMX-5)
}

func TestSemopRemovalWakesAll(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{1, 1, 0})
	ws := []*pending{
		sleepOps(t, s, Sembuf{0, -1, 0}),
		sleepOps(t, s, Sembuf{1, 0, 0}),
		sleepOps(t, s, Sembuf{1, -1, 0}, Sembuf{0, -1, 0}),
	}
	if err := ns.Sem.Remove(semOwner(), s); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		semWant(t, "waiter "+string(rune('0'+i)), w.result(t), unix.EIDRM)
	}
}

func TestSemopInterruptAndTimeout(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	op(t, s, nil, Sembuf{1, 3, 0})
	ctx, cancel := context.WithCancel(context.Background())
	u := &SemUndo{}
	w := sleep(t, ctx, s, u, SemOp{Ops: []Sembuf{{1, -1, undo}, {0, -1, undo}}})
	cancel()
	semWant(t, "interrupted", w.result(t), unix.EINTR)
	wantValues(t, "interrupted waiter took nothing", s, 0, 3)
	if n, _ := s.Query(semOwner(), GetNcnt, 0); n != 0 {
		t.Errorf("interrupted waiter still counted: %d", n)
	}
	for _, a := range u.adj {
		if a != 0 {
			t.Errorf("interrupted waiter left adjustments %v", u.adj)
		}
	}

	timed := SemOp{Ops: []Sembuf{{0, -1, 0}}, Timed: true, Timeout: 20 * time.Millisecond}
	w = sleep(t, context.Background(), s, nil, timed)
	semWant(t, "timed out", w.result(t), unix.EAGAIN)
	semWant(t, "zero timeout that need not wait", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: []Sembuf{{1, -1, 0}}, Timed: true}), nil)
	semWant(t, "zero timeout that must wait", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: []Sembuf{{0, -1, 0}}, Timed: true}), unix.EAGAIN)
	wantValues(t, "end", s, 0, 2)
	if queued(s) != 0 {
		t.Errorf("%d waiters left", queued(s))
	}
}

// TestSemopInterruptRace: an interruption that comes as the operation
// completes must report what happened: success with the values taken, or
// EINTR with nothing taken.
func TestSemopInterruptRace(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 1, 0o600)
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		w := sleep(t, ctx, s, nil, SemOp{Ops: []Sembuf{{0, -1, 0}}})
		go cancel()
		op(t, s, nil, Sembuf{0, 1, 0})
		err := w.result(t)
		v := values(t, s)[0]
		switch {
		case err == nil && v == 0:
		case err == unix.EINTR && v == 1:
			op(t, s, nil, Sembuf{0, -1, 0})
		default:
			t.Fatalf("round %d: %v with value %d", i, err, v)
		}
		cancel()
	}
}

func TestSemUndo(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 3, 0o600)
	op(t, s, nil, Sembuf{0, 1, 0})
	lock := &SemUndo{}
	if err := op(t, s, lock, Sembuf{0, -1, undo}, Sembuf{1, 2, undo}, Sembuf{2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	wantValues(t, "locked", s, 0, 2, 1)
	w := sleepOps(t, s, Sembuf{0, -1, 0})
	s.Exit(lock, 4242)
	semWant(t, "waiter after exit", w.result(t), nil)
	wantValues(t, "after exit", s, 0, 0, 1)
	if pid, _ := s.Query(semOwner(), GetPID, 1); pid != 4242 {
		t.Errorf("sempid after exit %d, want 4242", pid)
	}
	if pid, _ := s.Query(semOwner(), GetPID, 2); pid != 1100 {
		t.Errorf("sempid of an unadjusted semaphore %d, want 1100", pid)
	}
	s.Exit(lock, 1) // a second exit has nothing left to undo
	wantValues(t, "second exit", s, 0, 0, 1)

	// Adjustments are clamped to [0, SEMVMX] when applied.
	low, high := &SemUndo{}, &SemUndo{}
	op(t, s, low, Sembuf{0, 3, undo})
	op(t, s, nil, Sembuf{0, -3, 0})
	op(t, s, nil, Sembuf{1, 1, 0})
	op(t, s, high, Sembuf{1, -1, undo})
	op(t, s, nil, Sembuf{1, SemVMX, 0})
	s.Exit(low, 1)
	s.Exit(high, 1)
	wantValues(t, "clamped", s, 0, SemVMX, 1)
}

func TestSemSetClearsUndoAndWakes(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 2, 0o600)
	u := &SemUndo{}
	op(t, s, u, Sembuf{0, 2, undo}, Sembuf{1, 3, undo})
	w := sleepOps(t, s, Sembuf{0, -5, 0})
	if err := s.SetVal(semOwner(), 77, 0, 5); err != nil {
		t.Fatal(err)
	}
	semWant(t, "waiter after SETVAL", w.result(t), nil)
	if u.adj[0] != 0 || u.adj[1] != -3 {
		t.Errorf("SETVAL 0: adjustments %v, want [0 -3]", u.adj)
	}
	z := sleepOps(t, s, Sembuf{1, 0, 0})
	if err := s.SetAll(semOwner(), 78, []int{4, 0}); err != nil {
		t.Fatal(err)
	}
	semWant(t, "zero waiter after SETALL", z.result(t), nil)
	if u.adj[0] != 0 || u.adj[1] != 0 {
		t.Errorf("SETALL: adjustments %v, want none", u.adj)
	}
	s.Exit(u, 1)
	wantValues(t, "exit after SETALL undoes nothing", s, 4, 0)
}

// TestSemMutex: many goroutines take a SEM_UNDO lock, each through its
// own holder, and bump a counter only the holder may touch.
func TestSemMutex(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 1, 1, 0o600)
	op(t, s, nil, Sembuf{0, 1, 0})
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	counter, inside := 0, 0
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := &SemUndo{}
			defer s.Exit(u, 1)
			for j := 0; j < rounds; j++ {
				if err := s.Op(context.Background(), semOwner(), 1, u, SemOp{Ops: []Sembuf{{0, -1, undo}}}); err != nil {
					t.Error(err)
					return
				}
				inside++
				if inside != 1 {
					t.Errorf("%d holders at once", inside)
				}
				counter++
				inside--
				if err := s.Op(context.Background(), semOwner(), 1, u, SemOp{Ops: []Sembuf{{0, 1, undo}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if counter != workers*rounds {
		t.Errorf("counter %d, want %d", counter, workers*rounds)
	}
	wantValues(t, "end", s, 1)
}
