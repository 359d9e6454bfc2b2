package nsmodel_test

import (
	"errors"
	"os"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/nsmodel"
)

// Identities of the tests. Capabilities are bit masks of the CAP_*
// numbers nsmodel names.
const (
	ownerUID, ownerGID = 1000, 1000
	otherUID, otherGID = 2000, 2000
)

func capBit(c uint) uint64 { return 1 << c }

var (
	owner    = func() *nsmodel.Cred { return nsmodel.NewFixedCred(ownerUID, ownerGID, 100, nil, 0) }
	stranger = func() *nsmodel.Cred { return nsmodel.NewFixedCred(otherUID, otherGID, 200, nil, 0) }
	root     = func() *nsmodel.Cred { return nsmodel.NewFixedCred(0, 0, 1, nil, ^uint64(0)) }
)

// pageLog wraps the real backing.New and remembers every page store it
// made, so a test can see when one is closed and how often it is looked
// at, and none outlives its test.
type pageLog struct {
	mu    sync.Mutex
	byFd  map[int]*loggedPages
	stats int
}

type loggedPages struct {
	nsmodel.Pages
	log    *pageLog
	closed bool // protected by log.mu
}

func (p *loggedPages) Stat() (nsmodel.PageUsage, error) {
	p.log.mu.Lock()
	p.log.stats++
	p.log.mu.Unlock()
	return p.Pages.Stat()
}

func (p *loggedPages) Close() error {
	p.log.mu.Lock()
	p.closed = true
	delete(p.log.byFd, p.Fd())
	p.log.mu.Unlock()
	return p.Pages.Close()
}

func (l *pageLog) factory(name string, hugetlb bool) (nsmodel.Pages, error) {
	p, err := backing.New(name, hugetlb)
	if err != nil {
		return nil, err
	}
	lp := &loggedPages{Pages: p, log: l}
	l.mu.Lock()
	l.byFd[p.Fd()] = lp
	l.mu.Unlock()
	return lp, nil
}

// open reports how many page stores are not closed.
func (l *pageLog) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byFd)
}

// statCalls reports how many times the model looked at page stores.
func (l *pageLog) statCalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// newModel returns a model whose segments live in real memfds, and
// closes whatever memfds are left when the test ends.
func newModel(t testing.TB) (*nsmodel.Model, *pageLog) {
	l := &pageLog{byFd: make(map[int]*loggedPages)}
	m := nsmodel.NewModel(l.factory)
	t.Cleanup(func() {
		l.mu.Lock()
		left := make([]*loggedPages, 0, len(l.byFd))
		for _, p := range l.byFd {
			left = append(left, p)
		}
		l.mu.Unlock()
		for _, p := range left {
			p.Close()
		}
	})
	return m, l
}

// shmTable returns the shm table of the default namespace of a new model.
func shmTable(t testing.TB) (*nsmodel.ShmTable, *nsmodel.Namespace, *pageLog) {
	m, l := newModel(t)
	ns := m.Get(nsmodel.DefaultNamespace)
	return ns.Shm, ns, l
}

// create makes a segment as c, or fails the test.
func create(t testing.TB, tab *nsmodel.ShmTable, c *nsmodel.Cred, key int32, size uint64, mode uint32) *nsmodel.Shm {
	t.Helper()
	s, err := tab.Get(c, nsmodel.ShmGet{Key: key, Size: size, Mode: mode, Create: true})
	if err != nil {
		t.Fatalf("create key %#x size %d mode %o: %v", key, size, mode, err)
	}
	return s
}

// setLimit writes one limit as root, or fails the test.
func setLimit(t testing.TB, ns *nsmodel.Namespace, name, value string) {
	t.Helper()
	if err := ns.SetLimit(root(), name, value); err != nil {
		t.Fatalf("limit %s=%s: %v", name, value, err)
	}
}

// wantErr fails the test unless err is want (nil for success).
func wantErr(t testing.TB, what string, err error, want error) {
	t.Helper()
	if !errors.Is(err, want) && !(err == nil && want == nil) {
		t.Errorf("%s: got %v, want %v", what, errName(err), errName(want))
	}
}

func errName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
	}
	if err == nil {
		return "success"
	}
	return err.Error()
}

// errnoOf is the errno of a syscall's error, 0 for success.
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// identity is who a test thread acts as.
type identity struct {
	name     string
	uid, gid uint32
	groups   []uint32
	caps     uint64 // effective capabilities when uid is not 0
}

// cred is the identity as the model sees a caller.
func (id identity) cred() *nsmodel.Cred {
	caps := id.caps
	if id.uid == 0 {
		caps = ^uint64(0)
	}
	return nsmodel.NewFixedCred(id.uid, id.gid, int32(os.Getpid()), id.groups, caps)
}

// become makes the calling thread, locked by inPrivateIPC, act as id.
// It uses the raw system calls, which change one thread where the Go and
// libc wrappers change them all, and keeps the saved uid 0 so that
// unbecome can go back.
func become(id identity) error {
	groups := append([]uint32{0}, id.groups...)[1:]
	var p uintptr
	if len(groups) > 0 {
		p = uintptr(unsafe.Pointer(&groups[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), p, 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.gid), uintptr(id.gid), 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.uid), uintptr(id.uid), 0); e != 0 {
		return e
	}
	if id.uid == 0 || id.caps == 0 {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective = uint32(id.caps) & data[0].Permitted
	data[1].Effective = uint32(id.caps>>32) & data[1].Permitted
	return unix.Capset(&hdr, &data[0])
}

// unbecome makes the thread root again, with every capability it had.
func unbecome() error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// as runs f as id on the calling thread.
func as(t *testing.T, id identity, f func()) {
	if err := become(id); err != nil {
		t.Errorf("become %s: %v", id.name, err)
		unbecome()
		return
	}
	f()
	if err := unbecome(); err != nil {
		panic("cannot go back to root: " + err.Error())
	}
}

// inPrivateIPC runs f in a private IPC namespace (sem_kernel_test.go).
var inPrivateIPC = nsmodel.InPrivateIPC
