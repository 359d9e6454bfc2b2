package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/shmfs/shmfs/internal/fuseconn"
	"github.com/shmfs/shmfs/nsmodel"
)

var _ = (gofs.FileLseeker)((*semHandle)(nil))

// semPoll is what a set handle keeps for poll: the last list of
// operations written on it, which its writability is about.
type semPoll struct {
	mu  sync.Mutex
	ops []nsmodel.Sembuf
}

// wrote records the operations of a semop written on the handle, before
// they are tried: a non-blocking write that fails with EAGAIN is what a
// poll for writing then waits on.
func (p *semPoll) wrote(ops []nsmodel.Sembuf) {
	p.mu.Lock()
	p.ops = append(p.ops[:0], ops...)
	p.mu.Unlock()
}

// Lseek only answers the connection's poll probe: a set file is a
// stream, and the kernel sends no lseek for it.
func (h *semHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	p, ok := fuseconn.PollProbe(off, whence)
	if !ok {
		return 0, syscall.ESPIPE
	}
	return fuseconn.PollReply(h.pollReady(p)), 0
}

// pollReady is the readiness of the handle (docs/sem.md): always
// readable, since a read shows the values at once; writable when the
// last operations written on the handle would not block now (and before
// any was); both, and an error, once the set is removed. A poller that
// waits is woken by the set (nsmodel.SemWatch).
func (h *semHandle) pollReady(p fuseconn.PollRequest) uint32 {
	w, _ := p.Watch(func(wake func()) fuseconn.Watch { return nsmodel.NewSemWatch(h.s, wake) }).(*nsmodel.SemWatch)
	h.poll.mu.Lock()
	ops := append([]nsmodel.Sembuf(nil), h.poll.ops...)
	h.poll.mu.Unlock()
	ready, removed := h.s.Poll(ops, w)
	ev := uint32(pollIn)
	if ready {
		ev |= pollOut
	}
	if removed {
		ev |= pollErr
	}
	return ev
}
