package kernelipc

import (
	"context"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Undo is the thread of one handle that uses SEM_UNDO. All of the
// handle's semops with SEM_UNDO are made on it alone, so the kernel keeps
// their adjustments in an undo list of its own (the thread unshared
// CLONE_SYSVSEM), and Close applies them the way the kernel does when a
// task exits: unshare(CLONE_SYSVSEM) once more runs exit_sem, which
// adjusts every set in the list, skips sets that are gone and wakes the
// waiters. Then the thread ends.
//
// One thread serves calls one at a time, where the handle's users may
// make several at once (two threads of a program writing to one open
// set file, one blocked until the other's semop wakes it). A call that
// arrives while another waits in the kernel interrupts it (SIGURG: the
// semop fails with EINTR and did nothing, as semop is all or nothing),
// is made, and the interrupted call is made again after it. While
// several calls wait, they take the thread in turns, each interrupted
// by the next after undoTurn: each is in the kernel, and sees every
// change, a share of the time, and none is lost; semncnt and semzcnt
// count only the one in the kernel.
type Undo struct {
	ns  *Namespace
	uid uint32
	tid int

	// mu protects pending, running, since and closing.
	mu      sync.Mutex
	pending []*undoJob
	running *undoJob
	since   time.Time
	closing bool
	wake    chan struct{} // cap 1: pending or closing changed
	closed  chan error    // the result of the last unshare, then closed
}

// undoTurn is how long a call waits in the kernel while another of the
// same handle waits for the thread.
const undoTurn = 5 * time.Millisecond

type undoJob struct {
	ctx  context.Context
	c    *Cred
	op   func(nowait bool) error
	done chan error
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
	fd := ns.fd
	ns.mu.Unlock()
	u := &Undo{ns: ns, uid: c.UID, wake: make(chan struct{}, 1), closed: make(chan error, 1)}
	ready := make(chan error, 1)
	go u.loop(fd, ready)
	if err := <-ready; err != nil {
		ns.undoDone(c.UID)
		return nil, err
	}
	return u, nil
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

// loop is the handle's thread. Like a pool thread it is never unlocked
// and ends by returning while locked.
func (u *Undo) loop(nsfd int, ready chan<- error) {
	runtime.LockOSThread()
	if err := unix.Setns(nsfd, unix.CLONE_NEWIPC); err != nil {
		ready <- err
		return
	}
	if err := unix.Unshare(unix.CLONE_SYSVSEM); err != nil {
		ready <- err
		return
	}
	u.tid = unix.Gettid()
	ready <- nil
	broken := false
	for {
		u.mu.Lock()
		for len(u.pending) == 0 && !u.closing {
			u.mu.Unlock()
			<-u.wake
			u.mu.Lock()
		}
		if len(u.pending) == 0 {
			u.mu.Unlock()
			// Close: exit_sem, with the server's credentials.
			err := unix.Unshare(unix.CLONE_SYSVSEM)
			u.closed <- err
			close(u.closed)
			return
		}
		j := u.pending[0]
		u.pending = u.pending[1:]
		u.running, u.since = j, time.Now()
		u.mu.Unlock()

		var err error
		switch {
		case broken:
			err = unix.EIO
		case become(j.c) != nil:
			err = unix.EPERM
			if restore() != nil {
				broken = true
			}
		default:
			err = j.op(false)
			if restore() != nil {
				// A thread that cannot be the server again makes no
				// further call; its handle can still be closed.
				broken = true
			}
		}

		u.mu.Lock()
		u.running = nil
		if err == unix.EINTR && j.ctx != nil && j.ctx.Err() == nil && !broken {
			// Its turn ended, or a signal not ours: again, after the
			// others.
			u.pending = append(u.pending, j)
			u.mu.Unlock()
			continue
		}
		u.mu.Unlock()
		j.done <- err
	}
}

func (u *Undo) kick() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// exec makes op on the handle's thread with credentials c. The end of
// ctx interrupts it (EINTR); while it waits for the thread, it takes the
// thread from a call that has waited in the kernel for undoTurn.
func (u *Undo) exec(ctx context.Context, c *Cred, op func(bool) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	j := &undoJob{ctx: ctx, c: c, op: op, done: make(chan error, 1)}
	u.mu.Lock()
	if u.closing {
		u.mu.Unlock()
		return unix.EBADF
	}
	u.pending = append(u.pending, j)
	u.mu.Unlock()
	u.kick()
	t := time.NewTicker(undoTurn)
	defer t.Stop()
	pid := os.Getpid()
	for {
		select {
		case err := <-j.done:
			return err
		case <-ctx.Done():
		case <-t.C:
		}
		u.mu.Lock()
		switch {
		case u.running == j && ctx.Err() != nil:
			// Ours, and the caller gave up.
			unix.Tgkill(pid, u.tid, interruptSignal)
		case u.running != j && ctx.Err() != nil && u.remove(j):
			u.mu.Unlock()
			return unix.EINTR
		case u.running != nil && u.running != j && time.Since(u.since) >= undoTurn:
			// Waiting for the thread: take it from the one that has
			// had its turn.
			unix.Tgkill(pid, u.tid, interruptSignal)
		}
		u.mu.Unlock()
	}
}

// remove takes a job that has not started off the queue. u.mu is held.
func (u *Undo) remove(j *undoJob) bool {
	for i, x := range u.pending {
		if x == j {
			u.pending = append(u.pending[:i], u.pending[i+1:]...)
			return true
		}
	}
	return false
}

// Close applies the handle's undo adjustments and ends its thread. The
// handle's calls have all returned (a file is released only when no
// system call uses it).
func (u *Undo) Close() error {
	u.mu.Lock()
	if u.closing {
		u.mu.Unlock()
		return nil
	}
	u.closing = true
	u.mu.Unlock()
	u.kick()
	err := <-u.closed
	u.ns.undoDone(u.uid)
	return err
}
