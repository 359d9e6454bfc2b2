package fuseconn

import "runtime"

// The main goroutine keeps the main thread for the life of the process.
// A goroutine that locks its thread and then changes the thread's state
// for good (the serving threads here; the setns(CLONE_NEWIPC) workers of
// internal/kernelipc, which never unlock) may otherwise be given the main
// thread while main blocks in Conn.Wait: the thread whose namespaces
// /proc/PID/ns/* shows, which the runtime cannot end, so a worker's
// namespace would stay the server's for good (and kernelipc.Live would
// keep listing it). init runs on the main goroutine, on the main thread.
func init() { runtime.LockOSThread() }
