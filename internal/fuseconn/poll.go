package fuseconn

import (
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// POLL reaches a file handle of the node tree as an LSEEK that no kernel
// sends: go-fuse answers POLL itself (ENOSYS, after which the kernel
// never polls the mount again) and has no way from a request's fh to its
// FileHandle other than the operations it dispatches. LSEEK is the one
// that carries a handle, a 64-bit and a 32-bit argument, and a 64-bit
// result, and the kernel forwards only SEEK_DATA and SEEK_HOLE (3, 4),
// never on a FOPEN_STREAM file: a whence with probeMagic set cannot come
// from a caller. The whence also carries the events asked for, whether
// to notify, and which connection of the process asks.
const (
	probeMagic     = 0x7f000000
	probeNotify    = 1 << 16
	probeConnShift = 17
	maxConns       = 1 << 7 // 7 bits of whence: bits 17 to 23
)

// conns are the connections of the process, by their index in probes.
var conns struct {
	mu   sync.Mutex
	byIx [maxConns]atomic.Pointer[Conn]
}

// register gives c an index for its probes.
func (c *Conn) register() error {
	conns.mu.Lock()
	defer conns.mu.Unlock()
	for i := range conns.byIx {
		if conns.byIx[i].Load() == nil {
			conns.byIx[i].Store(c)
			c.ix = i
			return nil
		}
	}
	return errors.New("too many FUSE connections in one process")
}

func (c *Conn) unregister() {
	conns.mu.Lock()
	defer conns.mu.Unlock()
	if conns.byIx[c.ix].Load() == c {
		conns.byIx[c.ix].Store(nil)
	}
}

// PollRequest is a FUSE_POLL as a handle sees it.
type PollRequest struct {
	// Kh is the kernel's handle of the polled file.
	Kh uint64
	// Events are the poll events asked for (POLLIN, POLLOUT, ...).
	Events uint32
	// Notify is FUSE_POLL_SCHEDULE_NOTIFY: someone waits, and is to be
	// woken when the file may have become ready (Watch).
	Notify bool
	conn   *Conn
}

// Watch is what a polled handle keeps on the object it stands for: it
// calls the wake function it was made with when the object changes so
// that the file may have become ready.
type Watch interface {
	// Unwatch is called once the file is released: nothing waits on it
	// any more.
	Unwatch()
}

// Watch returns the file's watch, made by newWatch on its first poll
// with notification asked for: the connection keeps one per polled file
// until the file is released. wake sends FUSE_NOTIFY_POLL for the file;
// it does not wait for the server and may be called with any lock held.
// It returns nil when the request asks for no notification.
func (p PollRequest) Watch(newWatch func(wake func()) Watch) Watch {
	if !p.Notify || p.conn == nil {
		return nil
	}
	return p.conn.polled.watch(p.Kh, func() Watch {
		c, kh := p.conn, p.Kh
		return newWatch(func() { c.NotifyPoll(kh) })
	})
}

// PollProbe tells a FileLseeker's Lseek whether its arguments are a POLL
// of the handle. If so, the handle answers with its revents as the
// offset (PollReply).
func PollProbe(off uint64, whence uint32) (PollRequest, bool) {
	if whence&0xff000000 != probeMagic {
		return PollRequest{}, false
	}
	c := conns.byIx[(whence>>probeConnShift)&(maxConns-1)].Load()
	return PollRequest{Kh: off, Events: whence & 0xffff, Notify: whence&probeNotify != 0, conn: c}, true
}

// PollReply is the offset that answers a probe with revents.
func PollReply(revents uint32) uint64 { return uint64(revents) }

// pollProbe is the LSEEK request standing for a POLL request.
func pollProbe(req []byte, ix int) (probe []byte, fh, kh uint64, ok bool) {
	const pollIn = inHeaderSize + 24 // fh, kh, flags, events
	if len(req) < inHeaderSize+16 {
		return nil, 0, 0, false
	}
	fh, kh = ne.Uint64(req[inHeaderSize:]), ne.Uint64(req[inHeaderSize+8:])
	var flags, events uint32
	if len(req) >= pollIn {
		flags, events = ne.Uint32(req[inHeaderSize+16:]), ne.Uint32(req[inHeaderSize+20:])
	} else {
		// Protocol before 7.21: no events, every one is of interest.
		events = 0xffff
	}
	whence := uint32(probeMagic) | uint32(ix)<<probeConnShift | events&0xffff
	if flags&pollScheduleNotify != 0 {
		whence |= probeNotify
	}
	// struct fuse_lseek_in: fh, offset, whence, padding.
	probe = make([]byte, inHeaderSize+24)
	copy(probe, req[:inHeaderSize])
	ne.PutUint32(probe, uint32(len(probe)))
	ne.PutUint32(probe[4:], opLseek)
	ne.PutUint64(probe[inHeaderSize:], fh)
	ne.PutUint64(probe[inHeaderSize+8:], kh)
	ne.PutUint32(probe[inHeaderSize+16:], whence)
	return probe, fh, kh, true
}

// polled is the watches of the open files that the kernel polls with
// notification asked for, by kernel handle, and the handle of each file
// by fh, so that the file's release ends its watch.
type polled struct {
	mu      sync.Mutex
	watches map[uint64]Watch  // kh → watch
	byFh    map[uint64]uint64 // fh → kh; go-fuse reuses an fh only after its release
	n       atomic.Int64      // len(byFh), read without mu by every release
}

func (p *polled) watch(kh uint64, make func() Watch) Watch {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.watches[kh]
	if w == nil {
		if p.watches == nil {
			p.watches = map[uint64]Watch{}
		}
		w = make()
		p.watches[kh] = w
	}
	return w
}

// add records that fh, polled as kh, has a watch.
func (p *polled) add(fh, kh uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[kh] == nil {
		return
	}
	if p.byFh == nil {
		p.byFh = map[uint64]uint64{}
	}
	p.byFh[fh] = kh
	p.n.Store(int64(len(p.byFh)))
}

// take forgets fh and returns its watch.
func (p *polled) take(fh uint64) Watch {
	p.mu.Lock()
	defer p.mu.Unlock()
	kh, ok := p.byFh[fh]
	if !ok {
		return nil
	}
	delete(p.byFh, fh)
	p.n.Store(int64(len(p.byFh)))
	w := p.watches[kh]
	delete(p.watches, kh)
	return w
}

// poll answers a POLL: the handle's answer to the probe, or the default
// mask for a file that cannot say (no FileLseeker, or one that refuses
// the probe). The reply goes into out; its length is returned.
func (c *Conn) poll(req, out []byte, h inHeader) int {
	revents := uint32(DefaultPollMask)
	if probe, fh, kh, ok := pollProbe(req, c.ix); ok {
		n, st := c.ps.HandleRequest([][]byte{probe}, [][]byte{out})
		if st.Ok() && n >= outHeaderSize+8 && int32(ne.Uint32(out[4:])) == 0 {
			revents = uint32(ne.Uint64(out[outHeaderSize:]))
			if ne.Uint32(probe[inHeaderSize+16:])&probeNotify != 0 {
				c.polled.add(fh, kh)
			}
		}
	}
	// struct fuse_poll_out: revents, padding.
	putOutHeader(out, outHeaderSize+8, 0, h.unique)
	ne.PutUint64(out[outHeaderSize:], uint64(revents))
	return outHeaderSize + 8
}

// released is told of every RELEASE after go-fuse has served it.
func (c *Conn) released(req []byte) {
	if c.polled.n.Load() == 0 || len(req) < inHeaderSize+8 {
		return
	}
	if w := c.polled.take(ne.Uint64(req[inHeaderSize:])); w != nil {
		w.Unwatch()
	}
}

// NotifyPoll wakes whoever polls the file with kernel handle kh
// (FUSE_NOTIFY_POLL): the kernel polls it again. It does not wait for
// the server and may be called with any lock held.
func (c *Conn) NotifyPoll(kh uint64) error {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	fd := c.fd.Load()
	if fd < 0 {
		return unix.ENOTCONN
	}
	var b [outHeaderSize + 8]byte
	putOutHeader(b[:], uint32(len(b)), notifyPoll, 0)
	ne.PutUint64(b[outHeaderSize:], kh)
	_, err := unix.Write(int(fd), b[:])
	if err == unix.ENOENT {
		// The file is gone: nothing waits on it.
		err = nil
	}
	return err
}
