// Package fuseconn is shmfs's FUSE connection: it mounts, owns the
// /dev/fuse descriptor, and runs the loop that reads each request, hands
// it to go-fuse's protocol server (decoding, the node tree) and writes
// the reply. It answers POLL itself, which go-fuse refuses, and sends
// FUSE_NOTIFY_POLL; go-fuse's own notifications (entry, inode, delete)
// keep going through its Server, which writes them to the same
// connection.
//
// # Who reads the device
//
// A fixed set of serving threads, each a goroutine locked to its OS
// thread, reads /dev/fuse and serves what it read inline: no goroutine
// is spawned per request, and a request and its reply stay on the thread
// that the kernel woke. A request that blocks (a msgrcv that waits) holds
// its thread; when every thread is serving a request, one more is
// started so that the device is always read, and it ends once enough are
// free again.
//
// A thread blocked in read(2) keeps its P (the Go scheduler's processor)
// in the syscall state; when every P is so held, the runtime's sysmon
// takes them back every 20 µs and never backs off. GOMAXPROCS is raised
// by the number of serving threads, so that a P is always idle and
// sysmon leaves the readers alone.
package fuseconn

import (
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Options are the connection's own settings; the mount's are go-fuse's
// MountOptions.
type Options struct {
	// IOUring is "auto", "on" or "off": whether requests are served from
	// per-CPU io_uring rings (uring.go).
	IOUring string
	// BeforeServe, if set, runs once INIT is answered and before any
	// other request is served: what every request relies on (how
	// segment I/O is served, say) is decided there, not by racing the
	// first requests.
	BeforeServe func(srv *fuse.Server)
}

// Conn is one mounted FUSE connection.
type Conn struct {
	opts Options
	dir  string

	// fdMu is held for reading by every write to fd that is not a
	// reply (NotifyPoll), and for writing while fd is closed, so that a
	// notification never reaches a descriptor number reused since.
	fdMu sync.RWMutex
	fd   atomic.Int64 // the connection's /dev/fuse descriptor, -1 when closed

	srv *fuse.Server         // answered INIT; sends go-fuse's notifications
	ps  *fuse.ProtocolServer // decodes and serves every other request
	raw fuse.RawFileSystem

	bufSize int       // a request or a reply of the largest size
	bufs    sync.Pool // *[2][]byte: a serving thread's request and reply buffers
	fixed   int       // serving threads that never end

	// total counts the serving threads, busy those serving a request:
	// when every one is busy, none will read the next request.
	total   atomic.Int32
	busy    atomic.Int32
	mu      sync.Mutex
	readers map[*reader]struct{}
	wg      sync.WaitGroup

	polled  polled
	streams streams
	ix      int // the connection's index in poll probes

	transport string
	uring     *rings
	wantRings bool        // INIT asked for FUSE_OVER_IO_URING; Serve starts the rings
	mode      uringMode   // --io-uring
	debug     *log.Logger // with MountOptions.Debug

	dead     atomic.Bool
	deadOnce sync.Once
	done     chan struct{}
}

// reader is one serving thread.
type reader struct {
	// cur is the unique of the request being served, 0 when none: at
	// unmount it is interrupted, as go-fuse cancels all in flight.
	cur atomic.Uint64
}

// New makes a connection that Mount mounts. Notifications before then
// go nowhere.
func New(opts Options) *Conn {
	c := &Conn{opts: opts, readers: map[*reader]struct{}{}, done: make(chan struct{})}
	c.fd.Store(-1)
	return c
}

// Server is go-fuse's server of the connection, for what only it does:
// backing files for passthrough, the kernel's INIT settings.
func (c *Conn) Server() *fuse.Server { return c.srv }

// Transport says how requests are served, for the ready line.
func (c *Conn) Transport() string { return c.transport }

// raisedProcs makes GOMAXPROCS grow once per process by the serving
// threads of the first mount.
var raisedProcs sync.Once

// Mount mounts raw on dir with mount(2) (it needs CAP_SYS_ADMIN) and
// starts serving.
func (c *Conn) Mount(dir string, raw fuse.RawFileSystem, mo fuse.MountOptions) error {
	if mo.MaxWrite == 0 {
		mo.MaxWrite = 128 << 10
	}
	mode, err := parseIOUring(c.opts.IOUring)
	if err != nil {
		return err
	}
	wantRings, err := prepareUring(mode)
	if err != nil {
		return err
	}
	if wantRings {
		mo.ExtraCapabilities |= capOverIOUring
	}
	fd, err := mountFuse(dir, &mo)
	if err != nil {
		return err
	}
	c.dir = dir
	if err := c.register(); err != nil {
		unix.Close(fd)
		unix.Unmount(dir, unix.MNT_DETACH)
		return err
	}
	// go-fuse's Server takes the descriptor by the name /dev/fd/N (its
	// "magic mountpoint"): it reads and answers INIT, calls raw.Init
	// with itself, and from then on only writes notifications and asks
	// for backing ids. It is never told to Serve.
	so := mo
	so.DirectMount, so.DirectMountStrict = false, false
	srv, err := fuse.NewServer(raw, fmt.Sprintf("/dev/fd/%d", fd), &so)
	if err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		return fmt.Errorf("FUSE INIT: %v", err)
	}
	// Our own descriptor of the same connection: go-fuse's os.File owns
	// fd and may close it.
	rfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		return err
	}
	c.srv, c.raw = srv, raw
	if mo.Debug {
		c.debug = mo.Logger
		if c.debug == nil {
			c.debug = log.Default()
		}
	}
	c.ps = fuse.NewProtocolServer(raw, &so)
	c.bufSize = mo.MaxWrite + 64<<10
	c.bufs.New = func() any { return &[2][]byte{make([]byte, c.bufSize), make([]byte, c.bufSize)} }
	// The protocol server negotiates from the INIT it sees: give it the
	// one the kernel sent.
	scratch := make([]byte, 4096)
	if _, st := c.ps.HandleRequest([][]byte{initRequest(srv.KernelSettings())}, [][]byte{scratch}); !st.Ok() {
		unix.Close(rfd)
		unix.Unmount(dir, unix.MNT_DETACH)
		return fmt.Errorf("FUSE INIT: protocol server: %v", st)
	}
	c.fd.Store(int64(rfd))
	if c.opts.BeforeServe != nil {
		c.opts.BeforeServe(srv)
	}

	// One per CPU, and two to spare for requests that wait.
	c.fixed = runtime.NumCPU() + 2
	raisedProcs.Do(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + c.fixed) })
	c.transport = fmt.Sprintf("/dev/fuse (%d serving threads)", c.fixed)
	c.wantRings, c.mode = wantRings, mode
	return c.serveAll()
}

// serveAll starts serving: the serving threads, and the rings if INIT
// asked for them. Until then (BeforeServe) the kernel queues every
// request.
func (c *Conn) serveAll() error {
	dir, mode := c.dir, c.mode
	for range c.fixed {
		c.start(false)
	}
	if c.wantRings {
		c.streams.on.Store(true)
		r, err := c.startRings()
		c.uring = r
		if err != nil {
			if mode == uringOn {
				unix.Unmount(dir, unix.MNT_DETACH)
				return fmt.Errorf("--io-uring=on: %v", err)
			}
			c.transport += " (io_uring refused: " + err.Error() + ")"
		} else {
			c.transport = fmt.Sprintf("io_uring (%d rings, one per CPU; INIT, FORGET, INTERRUPT on /dev/fuse)", len(r.rings))
		}
	}
	return nil
}

// streams are the open files whose READ and WRITE may block: those opened
// with FOPEN_DIRECT_IO (queue, set, ctl and text files; a segment never
// is), known only while rings serve. A ring hands such a request off
// rather than stall its CPU: a msgrcv may wait for ever, a ctl command
// may wait for a directory lock to invalidate a name.
type streams struct {
	on atomic.Bool
	m  sync.Map // fh → struct{}
}

// FUSE opcodes and open flags that served looks at.
const (
	opRead       = 15
	opWrite      = 16
	opOpen       = 14
	opCreate     = 35
	fopenDirect  = 1 << 0
	entryOutSize = 128
)

// served looks at a request that go-fuse has answered: a release ends
// the file's poll watch, an open of a stream file is remembered.
func (c *Conn) served(h inHeader, opIn []byte, out [][]byte) {
	switch h.opcode {
	case opRelease:
		if len(opIn) < 8 {
			return
		}
		fh := ne.Uint64(opIn)
		c.releasedFh(fh)
		if c.streams.on.Load() {
			c.streams.m.Delete(fh)
		}
	case opOpen, opCreate:
		if !c.streams.on.Load() {
			return
		}
		off := outHeaderSize
		if h.opcode == opCreate {
			off += entryOutSize
		}
		var oh [outHeaderSize]byte
		var b [16]byte
		if copyFromIov(oh[:], out, 0) < outHeaderSize || int32(ne.Uint32(oh[4:])) != 0 || copyFromIov(b[:], out, off) < 12 {
			return
		}
		if ne.Uint32(b[8:])&fopenDirect != 0 {
			c.streams.m.Store(ne.Uint64(b[:]), struct{}{})
		}
	}
}

// mayBlock reports whether a request may wait for long: a READ or
// WRITE of a direct I/O file, or any request but those whose handlers
// never wait on anything but the model's short locks. A handler that
// changes names or attributes tells the kernel (NOTIFY_INVAL_ENTRY,
// NOTIFY_DELETE), which waits for the directory's lock, which a request
// queued behind it on the same ring may hold.
func (c *Conn) mayBlock(h inHeader, opIn []byte) bool {
	switch h.opcode {
	case opRead, opWrite, opRelease:
		// A segment's I/O and release never wait; a queue's, a set's
		// or a ctl file's may.
		if len(opIn) < 8 {
			return false
		}
		_, ok := c.streams.m.Load(ne.Uint64(opIn))
		return ok
	case 3, 52, opOpen, opLseek, opPoll, 34, 17, 27, 28, 29, 44, 22, 23:
		// GETATTR, STATX, OPEN, LSEEK, POLL, ACCESS, STATFS, OPENDIR,
		// READDIR, RELEASEDIR, READDIRPLUS, GETXATTR, LISTXATTR.
		return false
	}
	// Everything else, FLUSH among them: a ctl file's flush waits until
	// the names its command changed are invalidated.
	return true
}

// copyFromIov copies from the byte stream iov at off into dst.
func copyFromIov(dst []byte, iov [][]byte, off int) int {
	n := 0
	for _, e := range iov {
		if off >= len(e) {
			off -= len(e)
			continue
		}
		n += copy(dst[n:], e[off:])
		off = 0
		if n == len(dst) {
			break
		}
	}
	return n
}

// abort ends a connection that cannot serve: the mount goes, and so do
// the serving threads.
func (c *Conn) abort() {
	unix.Unmount(c.dir, unix.MNT_DETACH)
	c.closeFd()
	close(c.done)
}

// mountFuse opens /dev/fuse and mounts it on dir, as go-fuse's
// mountDirect does.
func mountFuse(dir string, mo *fuse.MountOptions) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err == unix.ENOTCONN {
		// A server restarted by its keeper mounts over the dead mount
		// of the one before (docs/crash.md): a directory.
		st.Mode = unix.S_IFDIR
	} else if err != nil {
		return -1, err
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	opts := []string{
		fmt.Sprintf("fd=%d", fd),
		fmt.Sprintf("rootmode=%o", st.Mode&unix.S_IFMT),
		fmt.Sprintf("user_id=%d", os.Geteuid()),
		fmt.Sprintf("group_id=%d", os.Getegid()),
		fmt.Sprintf("max_read=%d", mo.MaxWrite),
	}
	opts = append(opts, mo.Options...)
	if mo.AllowOther {
		opts = append(opts, "allow_other")
	}
	source := mo.FsName
	if source == "" {
		source = mo.Name
	}
	if err := unix.Mount(source, dir, "fuse."+mo.Name, unix.MS_NOSUID|unix.MS_NODEV, strings.Join(opts, ",")); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// yieldAfter is how long a serving thread serves before it passes
// through the Go scheduler.
const yieldAfter = 5 * time.Millisecond

// start starts a serving thread; an extra one ends once enough others
// are idle.
func (c *Conn) start(extra bool) {
	r := &reader{}
	c.mu.Lock()
	c.readers[r] = struct{}{}
	c.mu.Unlock()
	c.wg.Add(1)
	c.total.Add(1)
	go c.serve(r, extra)
}

func (c *Conn) serve(r *reader, extra bool) {
	defer func() {
		c.mu.Lock()
		delete(c.readers, r)
		c.mu.Unlock()
		c.total.Add(-1)
		c.wg.Done()
	}()
	if !extra {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
	}
	fd := int(c.fd.Load())
	bufs := c.bufs.Get().(*[2][]byte)
	defer c.bufs.Put(bufs)
	in, out := bufs[0], bufs[1]
	yielded := time.Now()
	for {
		if time.Since(yielded) > yieldAfter {
			// A goroutine that never passes through the scheduler
			// looks stuck to sysmon, which after 10 ms takes its P
			// (even in a syscall) and then wakes every 20 µs for a
			// millisecond, and again.
			runtime.Gosched()
			yielded = time.Now()
		}
		n, err := unix.Read(fd, in)
		if err != nil {
			switch err {
			case unix.EINTR, unix.EAGAIN:
				continue
			case unix.ENOENT:
				// The request was interrupted before it was read.
				continue
			}
			// ENODEV: unmounted or aborted.
			c.died()
			return
		}
		if c.busy.Add(1) >= c.total.Load() && !c.dead.Load() {
			// This request may block (a msgrcv that waits): someone
			// must read the next one.
			if c.total.Load() < int32(c.fixed+maxExtra) {
				c.start(true)
			} else {
				// As many readers as may be: the request is served
				// by a goroutine of its own, which holds no thread
				// while it waits, and this one reads on. (Readers
				// without bound made a thread each in a burst of
				// FORGETs, which Go never gives back.)
				c.handOff(in[:n])
				continue
			}
		}
		if n := c.handle(r, in[:n], out); n > 0 {
			c.reply(fd, out[:n])
		}
		busy := c.busy.Add(-1)
		if extra && c.total.Load()-busy > int32(c.fixed)+1 {
			// Two free besides the fixed ones: one that comes and
			// goes with each pair of requests would cost a thread
			// each time.
			return
		}
	}
}

// maxExtra bounds the serving threads started beyond the fixed ones
// when all are busy; past it, requests are handed off (handOff).
const maxExtra = 16

// handOff serves req on a goroutine of its own with buffers from the
// pool, and counts it busy until its reply is written.
func (c *Conn) handOff(req []byte) {
	bufs := c.bufs.Get().(*[2][]byte)
	in := append(bufs[0][:0], req...)
	fd := int(c.fd.Load())
	// A reader of its own, so that an unmount interrupts it too.
	r := &reader{}
	c.mu.Lock()
	c.readers[r] = struct{}{}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.readers, r)
			c.mu.Unlock()
			c.bufs.Put(bufs)
			c.busy.Add(-1)
			c.wg.Done()
		}()
		if n := c.handle(r, in, bufs[1]); n > 0 {
			c.reply(fd, bufs[1][:n])
		}
	}()
}

// reply writes a reply. ENOENT means the request was interrupted and
// the kernel no longer waits for it.
func (c *Conn) reply(fd int, b []byte) {
	for {
		_, err := unix.Write(fd, b)
		if err != unix.EINTR {
			return
		}
	}
}

// handle serves one request read from the kernel and returns the length
// of its reply in out, 0 for none.
func (c *Conn) handle(r *reader, req, out []byte) int {
	h, ok := parseHeader(req)
	if !ok {
		return 0
	}
	if h.opcode == opPoll {
		return c.poll(req, out, h)
	}
	r.cur.Store(h.unique)
	n, st := c.ps.HandleRequest([][]byte{req}, [][]byte{out})
	r.cur.Store(0)
	c.served(h, req[inHeaderSize:], [][]byte{out[:n]})
	if !st.Ok() {
		if h.opcode == opForget || h.opcode == opBatchForget || h.opcode == opInterrupt {
			return 0
		}
		putOutHeader(out, outHeaderSize, -int32(st), h.unique)
		return outHeaderSize
	}
	return n
}

// died is the end of the connection, seen by the first serving thread
// that read ENODEV: every request still being served is interrupted, as
// go-fuse does, so that a blocked msgrcv or semop returns and its thread
// ends; once all have, the node tree is told (OnUnmount).
func (c *Conn) died() {
	c.deadOnce.Do(func() {
		c.dead.Store(true)
		go func() {
			finished := make(chan struct{})
			go func() { c.wg.Wait(); c.stopRings(); close(finished) }()
			scratch := make([]byte, 4096)
			for {
				c.mu.Lock()
				var busy []uint64
				for r := range c.readers {
					if u := r.cur.Load(); u != 0 {
						busy = append(busy, u)
					}
				}
				c.mu.Unlock()
				for _, u := range busy {
					c.ps.HandleRequest([][]byte{interruptRequest(u)}, [][]byte{scratch})
				}
				select {
				case <-finished:
					c.closeFd()
					c.unregister()
					c.raw.OnUnmount()
					close(c.done)
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	})
}

func (c *Conn) closeFd() {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if fd := c.fd.Swap(-1); fd >= 0 {
		unix.Close(int(fd))
	}
}

// Wait returns once the connection has ended and serving has stopped.
func (c *Conn) Wait() { <-c.done }

// Unmount unmounts and waits until serving stops. It fails, leaving
// everything as it was, while files are open (EBUSY).
func (c *Conn) Unmount() error {
	var err error
	delay := time.Duration(0)
	for try := 0; try < 5; try++ {
		err = unix.Unmount(c.dir, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) {
			break
		}
		// The kernel may not have seen every close yet.
		delay = 2*delay + 5*time.Millisecond
		time.Sleep(delay)
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	c.Wait()
	return nil
}
