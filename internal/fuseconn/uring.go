package fuseconn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FUSE over io_uring (Documentation/filesystems/fuse-io-uring.rst,
// include/uapi/linux/fuse.h 7.42): once every CPU's queue has a ring
// entry registered, the kernel puts each request on the queue of the CPU
// its caller runs on, into the buffers of an entry, and completes the
// entry's FETCH; the server answers in the same buffers and commits with
// COMMIT_AND_FETCH, which also makes the entry wait for the next
// request. INIT, FORGET, INTERRUPT and notifications stay on /dev/fuse.
//
// Here: one ring per possible CPU, with 128-byte SQEs (the command data
// of a fuse_uring_cmd_req), served by one OS thread locked to its
// goroutine and pinned to its CPU. A request that may block (a READ or
// WRITE of a stream file: a msgrcv, msgsnd or semop) is handed to a
// goroutine, which commits its entry itself; the ring registers another
// entry, so that it always has two waiting for requests.

type uringMode int

const (
	uringAuto uringMode = iota
	uringOn
	uringOff
)

func parseIOUring(s string) (uringMode, error) {
	switch s {
	case "", "auto":
		return uringAuto, nil
	case "on":
		return uringOn, nil
	case "off":
		return uringOff, nil
	}
	return 0, fmt.Errorf("--io-uring=%q: want auto, on or off", s)
}

// enableUring is the module parameter that lets FUSE servers take
// requests from io_uring rings: a host-wide setting.
const enableUring = "/sys/module/fuse/parameters/enable_uring"

func uringEnabled() bool {
	b, err := os.ReadFile(enableUring)
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// prepareUring decides, before the mount, whether INIT asks for rings:
// auto when the module parameter is already on; on turns it on.
func prepareUring(mode uringMode) (bool, error) {
	switch mode {
	case uringOff:
		return false, nil
	case uringAuto:
		return uringEnabled(), nil
	}
	if uringEnabled() {
		return true, nil
	}
	if err := os.WriteFile(enableUring, []byte("Y"), 0); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, errors.New("--io-uring=on: this kernel has no FUSE over io_uring (no " + enableUring + "; it needs CONFIG_FUSE_IO_URING, Linux 6.14 or later)")
		}
		return false, fmt.Errorf("--io-uring=on: cannot turn on %s (needs root): %v", enableUring, err)
	}
	return true, nil
}

// capOverIOUring is FUSE_OVER_IO_URING, an INIT flag (flags2 bit 9).
const capOverIOUring = 1 << 41

// Constants of include/uapi/linux/io_uring.h and fuse.h.
const (
	ioringSetupCQSize = 1 << 3
	ioringSetupSQE128 = 1 << 10
	ioringFeatSingle  = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	ioringEnterGet    = 1 << 0 // IORING_ENTER_GETEVENTS
	ioringOffSQRing   = 0
	ioringOffCQRing   = 0x8000000
	ioringOffSQEs     = 0x10000000
	ioringOpURingCmd  = 46
	ioringOpPollAdd   = 6

	fuseURingCmdRegister = 1
	fuseURingCmdCommit   = 2

	sqeSize = 128
	cqeSize = 16

	// struct fuse_uring_req_header: in_out[128], op_in[128], then
	// struct fuse_uring_ent_in_out {flags, commit_id, payload_sz, ...}.
	ringOpIn      = 128
	ringEntInOut  = 256
	ringHeaderLen = 288
	ringIovOff    = 512 // where an entry keeps its two iovecs
	ringHeaderMem = 4096

	ringSQEntries = 64
	ringCQEntries = 512
	ringDepth     = 2 // entries registered per ring at start
)

type ioSqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

type ioCqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

type ioUringParams struct {
	SqEntries, CqEntries, Flags, SqThreadCPU, SqThreadIdle, Features, WqFd uint32
	Resv                                                                   [3]uint32
	SqOff                                                                  ioSqringOffsets
	CqOff                                                                  ioCqringOffsets
}

// rings is the per-CPU serving of a connection.
type rings struct {
	rings []*ring
}

// ring is one CPU's queue.
type ring struct {
	c   *Conn
	qid int
	fd  int // the io_uring

	ringMem, sqeMem []byte
	sqHead, sqTail  *uint32
	sqMask          uint32
	sqArray         unsafe.Pointer
	cqHead, cqTail  *uint32
	cqMask          uint32
	cqes            unsafe.Pointer

	// mu serializes the submission queue: the ring's thread and the
	// goroutines that commit handed-off entries push to it.
	mu   sync.Mutex
	ents []*entry // by index, the user_data of their SQEs; grows under mu
	// held counts entries handed off to goroutines.
	held atomic.Int32

	served atomic.Uint64 // requests taken from this ring, for tests
	r      *reader

	// A handed-off entry is committed by the ring's thread, never by the
	// goroutine that answered it: the kernel completes an entry's next
	// FETCH in the task that submitted it, and delivers that
	// completion only when the task next enters the kernel, which an
	// idle Go thread may not do for a long time. The goroutine queues
	// the entry on done and writes to efd, on which the ring's thread
	// keeps a POLL_ADD.
	efd  int
	done []*entry // under mu
}

// efdData is the user_data of the POLL_ADD on efd.
const efdData = 1 << 63

// entry is one ring entry: the header and payload buffers the kernel
// fills with a request and reads the reply from. Both are mmapped, out
// of the Go heap.
type entry struct {
	idx     int
	hdrMem  []byte
	payload []byte
	commit  uint64 // the commit id of the request answered in it
}

func possibleCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return runtime.NumCPU(), nil
	}
	// "0-3" or "0", or a list such as "0-3,5".
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		h, err := strconv.Atoi(hi)
		if err != nil {
			return 0, fmt.Errorf("/sys/devices/system/cpu/possible: %q", b)
		}
		n = max(n, h+1)
	}
	return n, nil
}

// startRings sets up a ring per possible CPU and starts their threads;
// it returns once every ring has registered its entries.
func (c *Conn) startRings() (*rings, error) {
	if c.srv.KernelSettings().Flags64()&capOverIOUring == 0 {
		return nil, errors.New("io_uring: the kernel did not offer FUSE_OVER_IO_URING at INIT")
	}
	n, err := possibleCPUs()
	if err != nil {
		return nil, err
	}
	rs := &rings{}
	errs := make(chan error, n)
	for qid := range n {
		r := &ring{c: c, qid: qid, r: &reader{}}
		rs.rings = append(rs.rings, r)
		c.wg.Add(1)
		c.mu.Lock()
		c.readers[r.r] = struct{}{}
		c.mu.Unlock()
		go r.run(errs)
	}
	for range n {
		if err := <-errs; err != nil {
			return rs, err
		}
	}
	return rs, nil
}

// run is a ring's thread: set up, register, then serve until the
// connection ends.
func (r *ring) run(started chan<- error) {
	c := r.c
	defer func() {
		c.mu.Lock()
		delete(c.readers, r.r)
		c.mu.Unlock()
		c.wg.Done()
	}()
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(r.qid)
	// A CPU that is possible but offline cannot be run on; its ring is
	// served from wherever the thread runs.
	unix.SchedSetaffinity(0, &set)
	if err := r.setup(); err != nil {
		started <- fmt.Errorf("io_uring ring %d: %v", r.qid, err)
		return
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		started <- fmt.Errorf("io_uring ring %d: eventfd: %v", r.qid, err)
		return
	}
	r.efd = efd
	r.mu.Lock()
	r.pollEfd()
	for range ringDepth {
		if err := r.register(); err != nil {
			r.mu.Unlock()
			started <- fmt.Errorf("io_uring ring %d: %v", r.qid, err)
			return
		}
	}
	r.mu.Unlock()
	if _, err := r.enter(ringDepth+1, 0, 0); err != nil {
		started <- fmt.Errorf("io_uring ring %d: register: %v", r.qid, err)
		return
	}
	started <- nil
	r.serve()
}

func (r *ring) setup() error {
	p := ioUringParams{Flags: ioringSetupSQE128 | ioringSetupCQSize, CqEntries: ringCQEntries}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, ringSQEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return fmt.Errorf("io_uring_setup: %v", errno)
	}
	r.fd = int(fd)
	if p.Features&ioringFeatSingle == 0 {
		return errors.New("io_uring without IORING_FEAT_SINGLE_MMAP")
	}
	size := max(int(p.SqOff.Array+p.SqEntries*4), int(p.CqOff.Cqes+p.CqEntries*cqeSize))
	mem, err := unix.Mmap(r.fd, ioringOffSQRing, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap of the rings: %v", err)
	}
	r.ringMem = mem
	sqes, err := unix.Mmap(r.fd, ioringOffSQEs, int(p.SqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap of the SQEs: %v", err)
	}
	r.sqeMem = sqes
	base := unsafe.Pointer(&mem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.SqOff.Head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.SqOff.Tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.SqOff.RingMask))
	r.sqArray = unsafe.Add(base, p.SqOff.Array)
	r.cqHead = (*uint32)(unsafe.Add(base, p.CqOff.Head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.CqOff.Tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.CqOff.RingMask))
	r.cqes = unsafe.Add(base, p.CqOff.Cqes)
	return nil
}

func (r *ring) close() {
	if r.ringMem != nil {
		unix.Munmap(r.ringMem)
	}
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.fd > 0 {
		unix.Close(r.fd)
	}
	if r.efd > 0 {
		unix.Close(r.efd)
	}
	for _, e := range r.ents {
		unix.Munmap(e.hdrMem)
		unix.Munmap(e.payload)
	}
}

// push fills the next SQE as a FUSE uring command on entry e. r.mu is
// held. It reports false when the submission queue is full.
func (r *ring) push(e *entry, cmd uint32, commitID uint64) bool {
	tail := *r.sqTail
	if tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
		return false
	}
	i := tail & r.sqMask
	sqe := r.sqeMem[int(i)*sqeSize : int(i+1)*sqeSize]
	clear(sqe)
	sqe[0] = ioringOpURingCmd
	ne.PutUint32(sqe[4:], uint32(r.c.fd.Load()))
	ne.PutUint32(sqe[8:], cmd)
	if cmd == fuseURingCmdRegister {
		iov := e.hdrMem[ringIovOff:]
		ne.PutUint64(iov, uint64(uintptr(unsafe.Pointer(&e.hdrMem[0]))))
		ne.PutUint64(iov[8:], ringHeaderLen)
		ne.PutUint64(iov[16:], uint64(uintptr(unsafe.Pointer(&e.payload[0]))))
		ne.PutUint64(iov[24:], uint64(len(e.payload)))
		ne.PutUint64(sqe[16:], uint64(uintptr(unsafe.Pointer(&iov[0]))))
		ne.PutUint32(sqe[24:], 2)
	}
	ne.PutUint64(sqe[32:], uint64(e.idx))
	// struct fuse_uring_cmd_req in the command area: flags, commit_id,
	// qid.
	ne.PutUint64(sqe[56:], commitID)
	ne.PutUint16(sqe[64:], uint16(r.qid))
	*(*uint32)(unsafe.Add(r.sqArray, 4*i)) = i
	atomic.StoreUint32(r.sqTail, tail+1)
	return true
}

// pollEfd pushes a POLL_ADD on efd. r.mu is held.
func (r *ring) pollEfd() bool {
	tail := *r.sqTail
	if tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
		return false
	}
	i := tail & r.sqMask
	sqe := r.sqeMem[int(i)*sqeSize : int(i+1)*sqeSize]
	clear(sqe)
	sqe[0] = ioringOpPollAdd
	ne.PutUint32(sqe[4:], uint32(r.efd))
	ne.PutUint32(sqe[28:], unix.POLLIN)
	ne.PutUint64(sqe[32:], efdData)
	*(*uint32)(unsafe.Add(r.sqArray, 4*i)) = i
	atomic.StoreUint32(r.sqTail, tail+1)
	return true
}

// register makes a new entry and pushes its REGISTER. r.mu is held.
func (r *ring) register() error {
	hdr, err := unix.Mmap(-1, 0, ringHeaderMem, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	pl, err := unix.Mmap(-1, 0, r.c.bufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Munmap(hdr)
		return err
	}
	e := &entry{idx: len(r.ents), hdrMem: hdr, payload: pl}
	r.ents = append(r.ents, e)
	if !r.push(e, fuseURingCmdRegister, 0) {
		return errors.New("submission queue full")
	}
	return nil
}

func (r *ring) enter(submit, wait uint, flags uintptr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), flags, 0, 0)
		if errno == unix.EINTR {
			if wait == 0 {
				return int(n), nil
			}
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// serve waits for completions and serves the request each brings.
func (r *ring) serve() {
	pending := uint(0)
	for {
		if _, err := r.enter(pending, 1, ioringEnterGet); err != nil && err != unix.EBUSY {
			return
		}
		pending = 0
		head := *r.cqHead
		tail := atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			cqe := unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize)
			idx := *(*uint64)(cqe)
			res := *(*int32)(unsafe.Add(cqe, 8))
			atomic.StoreUint32(r.cqHead, head+1)
			if idx == efdData {
				var b [8]byte
				unix.Read(r.efd, b[:])
				r.mu.Lock()
				for _, e := range r.done {
					if r.push(e, fuseURingCmdCommit, e.commit) {
						pending++
					}
				}
				r.done = r.done[:0]
				if r.pollEfd() {
					pending++
				}
				r.mu.Unlock()
				continue
			}
			if int(idx) >= len(r.ents) {
				continue
			}
			e := r.ents[idx]
			switch {
			case res == 0:
				if r.take(e) {
					pending++
				}
			case res == -int32(unix.EAGAIN) || res == -int32(unix.EINTR):
				r.mu.Lock()
				if r.push(e, fuseURingCmdRegister, 0) {
					pending++
				}
				r.mu.Unlock()
			default:
				if r.c.debug != nil {
					r.c.debug.Printf("fuseconn: ring %d: entry %d: %v", r.qid, idx, unix.Errno(-res))
				}
				// ENOTCONN, ENODEV: the connection is gone.
				if r.c.dead.Load() || res == -int32(unix.ENOTCONN) || res == -int32(unix.ENODEV) {
					return
				}
			}
		}
	}
}

// take serves the request in e: inline, or handed to a goroutine when
// it may block. It reports whether it pushed a commit for the caller to
// submit.
func (r *ring) take(e *entry) bool {
	r.served.Add(1)
	hdr := e.hdrMem[:ringHeaderLen]
	h, _ := parseHeader(hdr)
	if r.c.debug != nil {
		// The caller's pid, for telling which CPU's ring a caller's
		// requests come on.
		r.c.debug.Printf("fuseconn: ring %d: unique %d opcode %d from pid %d", r.qid, h.unique, h.opcode, ne.Uint32(hdr[32:]))
	}
	if r.c.mayBlock(h, hdr[ringOpIn:]) {
		if r.held.Add(1)+2 > int32(len(r.ents)) {
			r.mu.Lock()
			if r.register() == nil {
				r.enter(1, 0, 0)
			}
			r.mu.Unlock()
		}
		go func() {
			rd := &reader{}
			r.c.mu.Lock()
			r.c.readers[rd] = struct{}{}
			r.c.mu.Unlock()
			r.answer(e, rd)
			r.c.mu.Lock()
			delete(r.c.readers, rd)
			r.c.mu.Unlock()
			r.held.Add(-1)
			r.mu.Lock()
			r.done = append(r.done, e)
			r.mu.Unlock()
			var one [8]byte
			ne.PutUint64(one[:], 1)
			unix.Write(r.efd, one[:])
		}()
		return false
	}
	r.answer(e, r.r)
	r.mu.Lock()
	ok := r.push(e, fuseURingCmdCommit, e.commit)
	r.mu.Unlock()
	return ok
}

// answer serves the request in e and writes the reply into its
// buffers, for a commit with e.commit.
func (r *ring) answer(e *entry, rd *reader) {
	hdr := e.hdrMem[:ringHeaderLen]
	h, _ := parseHeader(hdr)
	psz := int(ne.Uint32(hdr[ringEntInOut+16:]))
	commit := ne.Uint64(hdr[ringEntInOut+8:])
	opsz := int(h.len) - inHeaderSize - psz
	var n int
	if opsz < 0 || opsz > ringEntInOut-ringOpIn || psz > len(e.payload) {
		putOutHeader(hdr, outHeaderSize, -int32(unix.EIO), h.unique)
		n = outHeaderSize
	} else if h.opcode == opPoll {
		req := make([]byte, 0, int(h.len))
		req = append(append(append(req, hdr[:inHeaderSize]...), hdr[ringOpIn:ringOpIn+opsz]...), e.payload[:psz]...)
		out := make([]byte, 64)
		n = r.c.poll(req, out, h)
		copy(hdr, out[:outHeaderSize])
		copy(e.payload, out[outHeaderSize:n])
	} else {
		in := [][]byte{hdr[:inHeaderSize], hdr[ringOpIn : ringOpIn+opsz], e.payload[:psz]}
		out := [][]byte{hdr[:outHeaderSize], e.payload}
		rd.cur.Store(h.unique)
		m, st := r.c.ps.HandleRequest(in, out)
		rd.cur.Store(0)
		r.c.served(h, hdr[ringOpIn:ringOpIn+opsz], out)
		if !st.Ok() || m < outHeaderSize {
			errno := -int32(st)
			if st.Ok() {
				errno = -int32(unix.EIO)
			}
			putOutHeader(hdr, outHeaderSize, errno, h.unique)
			m = outHeaderSize
		}
		n = m
	}
	ne.PutUint32(hdr[ringEntInOut+16:], uint32(n-outHeaderSize))
	e.commit = commit
}

func (c *Conn) stopRings() {
	if c.uring == nil {
		return
	}
	for _, r := range c.uring.rings {
		r.close()
	}
}

// RingRequests is how many requests each CPU's ring has served, by CPU;
// nil when requests come over /dev/fuse.
func (c *Conn) RingRequests() []uint64 {
	if c.uring == nil {
		return nil
	}
	var n []uint64
	for _, r := range c.uring.rings {
		n = append(n, r.served.Load())
	}
	return n
}
