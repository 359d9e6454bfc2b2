// Package kernelipc reaches the kernel's own System V IPC namespaces:
// every operation is the real syscall on the real object, made inside
// the namespace (setns(CLONE_NEWIPC) on a locked OS thread) with the
// caller's credentials, so ids, errnos, limits, /proc/sysvipc and every
// other program see exactly what it did. It imports no FUSE; the fs
// package puts it behind the same seam as the model (MOUNT/kernel/).
//
// # Namespaces
//
// A namespace is named by its nsfs inode (NSID, ipc-<inode>). Live lists
// those that hold a process, by a pass over /proc/<pid>/ns/ipc (thread
// group leaders only, so the server's serving threads never keep one
// listed). A Namespace holds its nsfs file open while the server uses
// it; Manager.Sweep lets go of those whose last process has ended and
// that nothing of the server holds, so the kernel frees them and their
// objects as it would.
//
// # Serving threads
//
// Each namespace has a pool of threads, each locked to its goroutine,
// moved into the namespace by setns and never unlocked: one ends by
// returning from its goroutine while locked, which ends the OS thread
// (a thread whose namespace or credentials changed must not serve other
// goroutines). Go makes new threads from its template thread when the
// asking goroutine is locked, so no thread is ever cloned from a serving
// one. Threads are made on demand and end after Bounds.Idle without
// work. The bounds, per namespace, and what happens at them:
//
//   - Bounds.Threads threads at most. A short call (every ctl, stat,
//     get, attach, listing, limit, and every IPC_NOWAIT send, receive or
//     semop) that finds none idle waits for one; short calls never block
//     in the kernel, so one comes back.
//   - Calls that may block in the kernel (msgsnd, msgrcv, semop,
//     semtimedop without IPC_NOWAIT) hold a thread each, up to
//     Bounds.Blockers in the namespace (fewer than Threads, so blockers
//     never starve short calls) and Bounds.BlockersPerUID per caller uid
//     (so one tenant cannot take them all). Past either bound the call
//     holds no thread: it is made with IPC_NOWAIT every
//     Bounds.PollInterval until it is done, fails otherwise, times out
//     (semtimedop: EAGAIN) or is interrupted. Its caller sees the same
//     results, later; while it polls the kernel does not count it in
//     semncnt/semzcnt and it has no place in the kernel's FIFO of
//     waiting senders and receivers.
//   - A blocked call is interrupted when its context ends (FUSE
//     INTERRUPT): the thread is sent SIGURG until the call returns;
//     msgsnd, msgrcv, semop and semtimedop are never restarted after a
//     handler (signal(7)), so they fail with EINTR and nothing is
//     consumed. A signal that was not ours (EINTR with the context
//     alive) makes the call again.
//
// # Credentials
//
// A call runs with the caller's effective uid and gid (as real and
// effective ids), supplementary groups and effective capabilities, set
// on the serving thread alone by the raw setresuid, setresgid, setgroups
// and capset system calls (Go's syscall.Setuid and x/sys/unix's change
// every thread of the process), and the server's are restored after
// every call; a thread that cannot restore them refuses all further work
// and ends. The saved uid stays 0, which keeps the permitted set and is
// seen by no IPC check. The effective set is what the kernel computes
// for the uid (cap_emulate_setxuid: everything for 0, nothing
// otherwise), narrowed by CredOf to what the calling process holds in
// the server's user namespace. So ipcperms, the IPC_SET/IPC_RMID owner
// rule, CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_IPC_LOCK and the /proc/sys
// checks are the kernel's own. map_files, which wants CAP_SYS_ADMIN, is
// opened with the server's credentials after the caller's shmat passed.
//
// # Segments
//
// ShmAttach is a shmat made for the caller, held by the server, and the
// segment's shm file opened through /proc/self/map_files of that attach.
// The file reaches the segment's pages with no copy (read, write, mmap
// MAP_SHARED), but it is the shmem file opened by path, so its own mmap
// is shmem's, not shm_mmap: the kernel counts the server's attach in
// shm_nattch (one per Attach, held until Close), not the file's
// mappings. A write past the end of the file grows the shmem file, not
// shm_segsz; no attach of the segment sees those bytes.
//
// # SEM_UNDO
//
// The kernel keeps SEM_UNDO adjustments in a per-task undo list that
// threads made with CLONE_SYSVSEM share (Go makes all of its threads so;
// setns into an IPC namespace detaches a thread from that list). A
// handle that uses SEM_UNDO gets an Undo: a thread of its own, outside
// the pool, that unshared CLONE_SYSVSEM, on which all of the handle's
// semops run. Undo.Close runs unshare(CLONE_SYSVSEM) on it once more,
// which is exit_sem: the kernel applies the adjustments as at task exit
// (skipping removed sets, waking waiters), synchronously, and then the
// thread ends. Bounds.Undo and Bounds.UndoPerUID bound these threads;
// past them NewUndo fails with ENOMEM, the errno of a semop whose undo
// structure cannot be allocated.
//
// # Departures from a process making the calls itself
//
//   - cpid, lpid, lspid, lrpid and sempid are the server's pid: the
//     kernel records the calling task, which is a serving thread.
//   - Ids are an index and a sequence number with the default index
//     width (no ipcmni_extend), which the *_STAT_ANY lookups assume.
package kernelipc
