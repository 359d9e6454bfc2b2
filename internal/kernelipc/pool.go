package kernelipc

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds limits the serving threads of one namespace. Zero fields take
// the defaults of DefaultBounds.
type Bounds struct {
	// Threads is the most pool threads a namespace has at once, idle or
	// busy. A short call that finds none idle and Threads running waits
	// for one: short calls never block in the kernel, so one comes back.
	Threads int
	// Blockers is the most pool threads that calls which may block in
	// the kernel (msgsnd, msgrcv, semop without IPC_NOWAIT) hold at once
	// in a namespace, and BlockersPerUID the most one caller uid holds.
	// Blockers is below Threads, so blocked callers never starve short
	// ones. A blocking call past either bound holds no thread: it is
	// made with IPC_NOWAIT on a pool thread every PollInterval until it
	// succeeds, fails otherwise, reaches its timeout or is interrupted.
	// The caller sees the same results, later; the kernel does not count
	// it in semncnt/semzcnt while it waits, and it takes no place in the
	// kernel's queue of waiting receivers or senders.
	Blockers, BlockersPerUID int
	// Undo is the most SEM_UNDO threads (one per handle that used
	// SEM_UNDO) of a namespace, and UndoPerUID of one caller uid. Past
	// them a semop with SEM_UNDO fails with ENOMEM, as the kernel's does
	// when it cannot allocate an undo structure.
	Undo, UndoPerUID int
	// Idle is how long a pool thread waits for work before it ends.
	Idle time.Duration
	// PollInterval is the retry period of a blocking call past the
	// blocker bounds.
	PollInterval time.Duration
}

// DefaultBounds are the bounds of a Manager made with zero Bounds.
var DefaultBounds = Bounds{
	Threads:        64,
	Blockers:       48,
	BlockersPerUID: 16,
	Undo:           256,
	UndoPerUID:     64,
	Idle:           5 * time.Second,
	PollInterval:   20 * time.Millisecond,
}

func (b Bounds) withDefaults() Bounds {
	d := DefaultBounds
	if b.Threads > 0 {
		d.Threads = b.Threads
	}
	if b.Blockers > 0 {
		d.Blockers = b.Blockers
	}
	if d.Blockers >= d.Threads {
		d.Blockers = d.Threads - 1
	}
	if b.BlockersPerUID > 0 {
		d.BlockersPerUID = b.BlockersPerUID
	}
	if b.Undo > 0 {
		d.Undo = b.Undo
	}
	if b.UndoPerUID > 0 {
		d.UndoPerUID = b.UndoPerUID
	}
	if b.Idle > 0 {
		d.Idle = b.Idle
	}
	if b.PollInterval > 0 {
		d.PollInterval = b.PollInterval
	}
	return d
}

// A worker is one locked OS thread inside a namespace. It is never
// unlocked: a thread that did setns (or changed its credentials) must
// not go back to the Go scheduler, so a worker ends by returning from
// its goroutine while locked, which makes the runtime end the thread.
type worker struct {
	ns   *Namespace
	tid  int
	jobs chan *job
	// undo marks a thread of a SEM_UNDO handle: it is outside the pool
	// and has its own undo list.
	undo bool
	// broken is set, on the thread itself, when its credentials could
	// not be restored; an undo thread then refuses every call until its
	// handle closes it.
	broken bool
}

type job struct {
	c    *Cred
	fn   func() error
	done chan error
	// running is set while fn runs, for the interrupter.
	running atomic.Bool
}

// errBroken ends a worker whose credentials could not be restored.
type errBroken struct{ err error }

func (e errBroken) Error() string {
	return "kernelipc: serving thread lost its credentials: " + e.err.Error()
}

// startWorker makes a thread, moves it into the namespace and, for a
// SEM_UNDO handle, gives it an undo list of its own.
func (ns *Namespace) startWorker(undo bool) (*worker, error) {
	w := &worker{ns: ns, jobs: make(chan *job), undo: undo}
	ready := make(chan error, 1)
	go w.loop(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

func (w *worker) loop(ready chan<- error) {
	runtime.LockOSThread()
	// No UnlockOSThread, ever: see worker.
	//
	// setns(CLONE_NEWIPC) also detaches the thread from the undo list it
	// shares with the rest of the process (Go makes its threads with
	// CLONE_SYSVSEM; commit_nsset calls exit_sem), so every worker starts
	// with none; an undo thread asks for it again to say so.
	if err := unix.Setns(w.ns.fd, unix.CLONE_NEWIPC); err != nil {
		ready <- err
		return
	}
	if w.undo {
		if err := unix.Unshare(unix.CLONE_SYSVSEM); err != nil {
			ready <- err
			return
		}
	}
	w.tid = unix.Gettid()
	ready <- nil
	idle := time.NewTimer(w.ns.b.Idle)
	defer idle.Stop()
	for {
		select {
		case j, ok := <-w.jobs:
			if !ok {
				return
			}
			if w.broken {
				j.done <- unix.EIO
				continue
			}
			err := w.run(j)
			if b, broken := err.(errBroken); broken {
				w.broken = true
				j.done <- b.err
				if !w.undo {
					w.ns.lost(w)
					return
				}
				continue
			}
			if !w.undo {
				w.ns.putIdle(w)
			}
			j.done <- err
		case <-idle.C:
			if !w.undo && w.ns.retire(w) {
				return
			}
		}
		idle.Reset(w.ns.b.Idle)
	}
}

// run makes one call with the caller's credentials and restores the
// server's. A thread whose credentials cannot be restored reports
// errBroken and ends.
func (w *worker) run(j *job) error {
	if err := become(j.c); err != nil {
		if rerr := restore(); rerr != nil {
			return errBroken{rerr}
		}
		return err
	}
	j.running.Store(true)
	err := j.fn()
	j.running.Store(false)
	if rerr := restore(); rerr != nil {
		return errBroken{rerr}
	}
	return err
}

// interruptSignal breaks a serving thread out of msgrcv, msgsnd, semop
// or semtimedop. Those calls are never restarted after a signal handler,
// whatever SA_RESTART says (signal(7)), so they fail with EINTR; Go's
// handler for SIGURG (its preemption signal) does nothing harmful to a
// thread in a system call.
const interruptSignal = unix.SIGURG

// exec runs j on w and waits for it. When ctx ends first, the thread is
// signalled until the call returns: a signal that arrives before the
// thread enters the kernel is lost, so it is sent again.
func (w *worker) exec(ctx context.Context, j *job) error {
	w.jobs <- j
	if ctx == nil {
		return <-j.done
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	pid := os.Getpid()
	for {
		if j.running.Load() {
			unix.Tgkill(pid, w.tid, interruptSignal)
		}
		select {
		case err := <-j.done:
			return err
		case <-t.C:
		}
	}
}

// putIdle returns a pool thread after a call.
func (ns *Namespace) putIdle(w *worker) {
	ns.mu.Lock()
	if ns.closed {
		ns.threads--
		ns.mu.Unlock()
		close(w.jobs)
		return
	}
	ns.idle = append(ns.idle, w)
	ns.cond.Broadcast()
	ns.mu.Unlock()
}

// retire ends an idle thread: true when it was idle (and is now gone
// from the pool), false when a caller took it meanwhile.
func (ns *Namespace) retire(w *worker) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for i, x := range ns.idle {
		if x == w {
			ns.idle = append(ns.idle[:i], ns.idle[i+1:]...)
			ns.threads--
			ns.cond.Broadcast()
			return true
		}
	}
	return false
}

// lost forgets a pool thread that ended with its credentials broken.
func (ns *Namespace) lost(w *worker) {
	ns.mu.Lock()
	ns.threads--
	ns.cond.Broadcast()
	ns.mu.Unlock()
}

// get takes an idle pool thread, or makes one under the bound, or waits.
func (ns *Namespace) get() (*worker, error) {
	ns.mu.Lock()
	for {
		if ns.closed {
			ns.mu.Unlock()
			return nil, unix.ENOENT
		}
		if n := len(ns.idle); n > 0 {
			w := ns.idle[n-1]
			ns.idle = ns.idle[:n-1]
			ns.mu.Unlock()
			return w, nil
		}
		if ns.threads < ns.b.Threads {
			ns.threads++
			ns.mu.Unlock()
			w, err := ns.startWorker(false)
			if err != nil {
				ns.mu.Lock()
				ns.threads--
				ns.cond.Broadcast()
				ns.mu.Unlock()
				return nil, err
			}
			return w, nil
		}
		ns.cond.Wait()
	}
}

// hold keeps the namespace open (its nsfs file and its entry in the
// Manager) while something uses it; drop ends the hold.
func (ns *Namespace) hold() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.closed {
		return unix.ENOENT
	}
	ns.holds++
	return nil
}

func (ns *Namespace) drop() {
	ns.mu.Lock()
	ns.holds--
	ns.mu.Unlock()
}

// call runs fn, which does not block in the kernel, on a thread of the
// namespace with credentials c.
func (ns *Namespace) call(c *Cred, fn func() error) error {
	if err := ns.hold(); err != nil {
		return err
	}
	defer ns.drop()
	w, err := ns.get()
	if err != nil {
		return err
	}
	return w.exec(nil, &job{c: c, fn: fn, done: make(chan error, 1)})
}

// wouldBlock is what an IPC_NOWAIT call says instead of waiting.
func wouldBlock(err error) bool { return err == unix.EAGAIN || err == unix.ENOMSG }

// block runs op, a call that may block in the kernel, on a thread with
// credentials c. op(false) may block; op(true) must not (IPC_NOWAIT).
// The end of ctx interrupts it: EINTR. A deadline (zero for none) ends
// a call that polls past the bounds with EAGAIN, as semtimedop's timeout
// does; op itself handles the deadline when it blocks.
func (ns *Namespace) block(ctx context.Context, c *Cred, deadline time.Time, op func(nowait bool) error) error {
	if err := ns.hold(); err != nil {
		return err
	}
	defer ns.drop()
	ns.mu.Lock()
	if ns.blockers >= ns.b.Blockers || ns.blockersByUID[c.UID] >= ns.b.BlockersPerUID {
		ns.mu.Unlock()
		return ns.poll(ctx, c, deadline, op)
	}
	ns.blockers++
	ns.blockersByUID[c.UID]++
	ns.mu.Unlock()
	defer func() {
		ns.mu.Lock()
		ns.blockers--
		if ns.blockersByUID[c.UID]--; ns.blockersByUID[c.UID] == 0 {
			delete(ns.blockersByUID, c.UID)
		}
		ns.mu.Unlock()
	}()
	w, err := ns.get()
	if err != nil {
		return err
	}
	return w.exec(ctx, &job{c: c, fn: retryEINTR(ctx, op), done: make(chan error, 1)})
}

// retryEINTR makes op again when a signal that was not the caller's
// interrupt broke it.
func retryEINTR(ctx context.Context, op func(bool) error) func() error {
	return func() error {
		for {
			err := op(false)
			if err != unix.EINTR || ctx == nil || ctx.Err() != nil {
				return err
			}
		}
	}
}

// poll is a blocking call past the bounds: see Bounds.Blockers.
func (ns *Namespace) poll(ctx context.Context, c *Cred, deadline time.Time, op func(bool) error) error {
	t := time.NewTicker(ns.b.PollInterval)
	defer t.Stop()
	for {
		w, err := ns.get()
		if err != nil {
			return err
		}
		err = w.exec(nil, &job{c: c, fn: func() error { return op(true) }, done: make(chan error, 1)})
		if !wouldBlock(err) {
			return err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return unix.EAGAIN
		}
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case <-done:
			return unix.EINTR
		case <-t.C:
		}
	}
}

// Undo is the thread of one handle that uses SEM_UNDO. Its semops are
// made on it alone, so the kernel keeps their adjustments in an undo
// list of its own (the thread unshared CLONE_SYSVSEM), and Close applies
// them the way the kernel does when a task exits: unshare(CLONE_SYSVSEM)
// runs exit_sem, which adjusts every set in the list, skips sets that
// are gone and wakes the waiters. Then the thread ends.
type Undo struct {
	ns  *Namespace
	uid uint32
	w   *worker
	mu  sync.Mutex
}

// NewUndo makes the SEM_UNDO thread of a handle of caller c: ENOMEM past
// the bounds (Bounds.Undo).
func (ns *Namespace) NewUndo(c *Cred) (*Undo, error) {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return nil, unix.ENOENT
	}
	if ns.undo >= ns.b.Undo || ns.undoByUID[c.UID] >= ns.b.UndoPerUID {
		ns.mu.Unlock()
		return nil, unix.ENOMEM
	}
	ns.undo++
	ns.undoByUID[c.UID]++
	ns.holds++
	ns.mu.Unlock()
	w, err := ns.startWorker(true)
	if err != nil {
		ns.undoDone(c.UID)
		return nil, err
	}
	return &Undo{ns: ns, uid: c.UID, w: w}, nil
}

func (ns *Namespace) undoDone(uid uint32) {
	ns.mu.Lock()
	ns.undo--
	if ns.undoByUID[uid]--; ns.undoByUID[uid] == 0 {
		delete(ns.undoByUID, uid)
	}
	ns.holds--
	ns.mu.Unlock()
}

// exec runs op on the handle's thread, interrupted by ctx.
func (u *Undo) exec(ctx context.Context, c *Cred, op func(bool) error) error {
	u.mu.Lock()
	w := u.w
	u.mu.Unlock()
	if w == nil {
		return unix.EBADF
	}
	return w.exec(ctx, &job{c: c, fn: retryEINTR(ctx, op), done: make(chan error, 1)})
}

// Close applies the handle's undo adjustments and ends its thread. It
// waits for a call in progress on the thread (one blocked in semop is
// the caller's to interrupt).
func (u *Undo) Close() error {
	u.mu.Lock()
	w := u.w
	u.w = nil
	u.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.exec(nil, &job{c: NewCred(base.euid, base.egid, base.groups), fn: func() error {
		return unix.Unshare(unix.CLONE_SYSVSEM)
	}, done: make(chan error, 1)})
	close(w.jobs)
	u.ns.undoDone(u.uid)
	return err
}
