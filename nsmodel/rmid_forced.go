package nsmodel

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// shm_rmid_forced, as ipc/shm.c has it.
//
// Every segment remembers the task that created it (shp->shm_creator,
// on whose sysvshm.shm_clist it sits) until that task exits: the
// creating thread, not its process, as newseg records current and
// do_exit calls exit_shm for each thread. A segment whose creator has
// exited is orphaned. With shm_rmid_forced set:
//
//   - setting it (and reading it while set) destroys every orphaned
//     segment with no attach (shm_destroy_orphaned);
//   - a creator's exit destroys its segments that have no attach
//     (exit_shm);
//   - a last detach destroys the segment, whether or not its creator
//     lives (shm_may_destroy: nattch == 0 && (rmid_forced || SHM_DEST)).
//
// With it clear, an exit only orphans, so that a later set finds the
// orphans.
//
// The model learns of a creator's exit from a pidfd of the creating
// thread (PIDFD_THREAD), in one epoll set for the whole process. A
// goroutine parked on that set in the runtime's poller applies the exits
// as they come, which frees the pages; and every look at a shm table of
// a namespace that has shm_rmid_forced set applies the exits already
// reported first (reapExits), so nothing the kernel would have destroyed
// by the time its creator's wait(2) returned is ever seen: the exiting
// task wakes pidfd pollers before it wakes its parent.
//
// Departures: a caller the server cannot name (pid 0: outside the
// server's pid namespace) is not watched, and its segments are never
// orphaned; a creating thread that exited before the server got to it is
// taken as exited without an exit_shm of its own, so its segment is
// orphaned at once but destroyed only at its last detach or at the next
// set of shm_rmid_forced.

// pidfdThread is PIDFD_THREAD (linux/pidfd.h): a pidfd of the thread
// itself, readable when that thread exits.
const pidfdThread = unix.O_EXCL

// creatorTask is a task that created segments that are alive: the
// kernel's task_struct as far as sysvshm.shm_clist goes.
type creatorTask struct {
	tid   int32
	pidfd int
	// segs is shm_clist. Protected by exits.mu.
	segs map[*Shm]struct{}
	// exited is set once the exit is taken from the watch; the
	// segments still naming the task are then orphaned one by one.
	exited bool
	// idle is set while the task has no segment and is kept watched
	// all the same (exitWatch.idle).
	idle bool
}

// unwatched stands for a creator the model cannot watch: its segments
// are never orphaned.
var unwatched = &creatorTask{}

// exitWatch is every creator task of every model in the process.
type exitWatch struct {
	// mu protects the fields below and every task's segs. Lock order:
	// a table's Registry.mu, then mu.
	mu sync.Mutex
	// ep is the epoll set of the tasks' pidfds, nil until the first
	// task is watched; the goroutine run waits on it.
	ep *os.File
	// tasks are the watched tasks, by tid and by pidfd.
	tasks map[int32]*creatorTask
	byFd  map[int32]*creatorTask
	// idle are tasks whose segments are all gone, oldest first, still
	// watched so that a task that makes and removes segments in turn
	// does not open and close a pidfd each time (which costs a create
	// about half again); at most maxIdle of them.
	idle []*creatorTask
	// forced counts the tables that have shm_rmid_forced set: only
	// then must an exit be applied before a look at a table.
	forced atomic.Int32
}

// maxIdle is how many tasks with no segment stay watched.
const maxIdle = 64

var exits exitWatch

// watch makes the task of tid the creator of s (the list_add of newseg
// to current->sysvshm.shm_clist). t.mu is held.
func (w *exitWatch) watch(s *Shm, tid int32) {
	if tid <= 0 {
		s.creator = unwatched
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	task := w.tasks[tid]
	if task != nil && exitedFd(task.pidfd) {
		// tid was reused after the task it named exited: that exit is
		// the watch's to apply, and this is another task.
		delete(w.tasks, tid)
		task = nil
	}
	if task != nil && task.idle {
		w.unidle(task)
	}
	if task == nil {
		var err error
		if task, err = w.open(tid); err != nil {
			if err == unix.ESRCH {
				s.creator = nil // gone already: an orphan
			} else {
				s.creator = unwatched
			}
			return
		}
	}
	task.segs[s] = struct{}{}
	s.creator = task
}

// open watches tid. w.mu is held.
func (w *exitWatch) open(tid int32) (*creatorTask, error) {
	fd, err := unix.PidfdOpen(int(tid), pidfdThread)
	if err == unix.EINVAL {
		// No PIDFD_THREAD (before Linux 6.9): a pidfd of a thread
		// group leader tells when its whole group has exited.
		fd, err = unix.PidfdOpen(int(tid), 0)
	}
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := w.start(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(int(w.ep.Fd()), unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return nil, err
	}
	task := &creatorTask{tid: tid, pidfd: fd, segs: make(map[*Shm]struct{})}
	w.tasks[tid] = task
	w.byFd[int32(fd)] = task
	return task, nil
}

// start makes the epoll set and starts run, once per process. w.mu is
// held.
func (w *exitWatch) start() error {
	if w.ep != nil {
		return nil
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller
	// and run parks without holding a thread.
	unix.SetNonblock(epfd, true)
	w.ep = os.NewFile(uintptr(epfd), "shmfs-creator-exits")
	w.tasks = make(map[int32]*creatorTask)
	w.byFd = make(map[int32]*creatorTask)
	go w.run(w.ep)
	return nil
}

// startExitWatch makes the watch's one descriptor before the first
// segment, so that it is among a server's descriptors from the start
// and each segment costs its memfd alone.
func startExitWatch() {
	exits.mu.Lock()
	defer exits.mu.Unlock()
	exits.start()
}

// exitedFd reports whether pidfd reports its task's exit.
func exitedFd(pidfd int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// forget takes s off its creator's list (shm_clist_rm), at its
// destruction; a task left with no segment is no longer watched. t.mu is
// held.
func (w *exitWatch) forget(s *Shm) {
	task := s.creator
	s.creator = nil
	if task == nil || task == unwatched {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(task.segs, s)
	if len(task.segs) == 0 && !task.exited && !task.idle {
		if len(w.idle) == maxIdle {
			w.close(w.idle[0])
		}
		task.idle = true
		w.idle = append(w.idle, task)
	}
}

// unidle takes task off the idle list. w.mu is held.
func (w *exitWatch) unidle(task *creatorTask) {
	task.idle = false
	for i, t := range w.idle {
		if t == task {
			w.idle = append(w.idle[:i], w.idle[i+1:]...)
			return
		}
	}
}

// close stops watching task. w.mu is held.
func (w *exitWatch) close(task *creatorTask) {
	if task.idle {
		w.unidle(task)
	}
	if w.tasks[task.tid] == task {
		delete(w.tasks, task.tid)
	}
	delete(w.byFd, int32(task.pidfd))
	unix.EpollCtl(int(w.ep.Fd()), unix.EPOLL_CTL_DEL, task.pidfd, nil)
	unix.Close(task.pidfd)
	task.pidfd = -1
}

// run applies exits as the watch reports them. It parks in the runtime's
// poller, holding no thread, while no watched task has exited.
func (w *exitWatch) run(ep *os.File) {
	rc, err := ep.SyscallConn()
	if err != nil {
		return
	}
	var ev [1]unix.EpollEvent
	for {
		err := rc.Read(func(fd uintptr) bool {
			n, err := unix.EpollWait(int(fd), ev[:], 0)
			return n > 0 || err != nil && err != unix.EINTR
		})
		if err != nil {
			return
		}
		w.reap()
	}
}

// reap applies every exit the watch reports: exit_shm for each exited
// task.
func (w *exitWatch) reap() {
	w.mu.Lock()
	if w.ep == nil {
		w.mu.Unlock()
		return
	}
	var gone []*creatorTask
	var evs [64]unix.EpollEvent
	for {
		n, err := unix.EpollWait(int(w.ep.Fd()), evs[:], 0)
		if err == unix.EINTR {
			continue
		}
		for _, ev := range evs[:max(n, 0)] {
			if task := w.byFd[ev.Fd]; task != nil {
				task.exited = true
				w.close(task)
				gone = append(gone, task)
			}
		}
		if n < len(evs) {
			break
		}
	}
	type orphan struct {
		s    *Shm
		task *creatorTask
	}
	var orphans []orphan
	for _, task := range gone {
		for s := range task.segs {
			orphans = append(orphans, orphan{s, task})
		}
		task.segs = nil
	}
	w.mu.Unlock()
	for _, o := range orphans {
		o.s.table.exitShm(o.s, o.task)
	}
}

// exitShm is the part of exit_shm for one segment of the exited task:
// it is orphaned, and destroyed if shm_rmid_forced is set and nothing is
// attached. A segment destroyed since no longer names the task.
func (t *ShmTable) exitShm(s *Shm, task *creatorTask) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.creator != task {
		return
	}
	s.creator = nil
	if !s.perm.Deleted && t.forced && s.nattch == 0 {
		t.destroyUnnamed(s)
	}
}

// reapExits applies the creators' exits that the watch has seen, before
// a look at the table, when it matters: while some table has
// shm_rmid_forced set.
func (t *ShmTable) reapExits() {
	if exits.forced.Load() != 0 {
		exits.reap()
	}
}

// RmidForced is shm_rmid_forced.
func (t *ShmTable) RmidForced() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.forced
}

// SetRmidForced sets shm_rmid_forced; setting it destroys the orphaned
// segments that have no attach, as proc_ipc_dointvec_minmax_orphans
// does after every write.
func (t *ShmTable) SetRmidForced(on bool) {
	t.mu.Lock()
	if on != t.forced {
		t.forced = on
		if on {
			exits.forced.Add(1)
		} else {
			exits.forced.Add(-1)
		}
	}
	t.mu.Unlock()
	if on {
		t.destroyOrphaned()
	}
}

// destroyOrphaned is shm_destroy_orphaned: the exits seen so far are
// applied, then every segment whose creator has exited and that has no
// attach is destroyed.
func (t *ShmTable) destroyOrphaned() {
	exits.reap()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.forced {
		return
	}
	for _, o := range t.sorted() {
		if s := o.(*Shm); s.creator == nil && t.mayDestroy(s) {
			t.destroyUnnamed(s)
		}
	}
}

// mayDestroy is shm_may_destroy. t.mu is held.
func (t *ShmTable) mayDestroy(s *Shm) bool {
	return s.nattch == 0 && (t.forced || s.perm.Mode&ShmDest != 0)
}

// destroyUnnamed destroys s, which no request on its name removes: if
// it still has its name, whoever shows the table is told it went
// (Model.Gone). t.mu is held.
func (t *ShmTable) destroyUnnamed(s *Shm) {
	named := s.perm.Mode&ShmDest == 0
	name := EntryName(&s.perm)
	t.destroy(s)
	if gone := t.ns.model.Gone; named && gone != nil {
		gone(t, name)
	}
}

// Get, Lookup, List and Stats are those of every kind (ipc.go), after
// the exits that matter are taken in: each looks at the table.

// Get is shmget (ids.Get).
func (t *ShmTable) Get(c *Cred, req ShmGet) (*Shm, error) {
	t.reapExits()
	return t.ids.Get(c, req)
}

// Lookup is ids.Lookup.
func (t *ShmTable) Lookup(ref Ref) (*Shm, error) {
	t.reapExits()
	return t.ids.Lookup(ref)
}

// List is ids.List.
func (t *ShmTable) List() []ObjectStat {
	t.reapExits()
	return t.ids.List()
}

// Stats is ids.Stats.
func (t *ShmTable) Stats() []ShmStat {
	t.reapExits()
	return t.ids.Stats()
}
