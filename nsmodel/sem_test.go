package nsmodel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// semNS is a fresh namespace whose clock ticks once per reading.
func semNS(t *testing.T) *Namespace {
	t.Helper()
	m := NewModel(nil)
	var clock atomic.Int64
	clock.Store(5000)
	m.Now = func() int64 { return clock.Add(1) }
	return m.Get(DefaultNamespace)
}

// Credentials of the semaphore tests: the creator, someone else, root.
var (
	semOwner    = func() *Cred { return NewFixedCred(1000, 1000, 1100, nil, 0) }
	semStranger = func() *Cred { return NewFixedCred(2000, 2000, 2200, nil, 0) }
	semRoot     = func() *Cred { return NewFixedCred(0, 0, 1, nil, ^uint64(0)) }
)

func semWant(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) && !(got == nil && want == nil) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// newSet makes a set of n semaphores owned by semOwner.
func newSet(t *testing.T, ns *Namespace, key int32, n int, mode uint32) *Sem {
	t.Helper()
	s, err := ns.Sem.Get(semOwner(), SemGet{Key: key, Nsems: n, Mode: mode, Create: true})
	if err != nil {
		t.Fatalf("semget(%#x, %d): %v", key, n, err)
	}
	return s
}

// values is GETALL as root, or fails the test.
func values(t *testing.T, s *Sem) []int {
	t.Helper()
	v, err := s.GetAll(semRoot())
	if err != nil {
		t.Fatalf("GETALL: %v", err)
	}
	return v
}

func wantValues(t *testing.T, what string, s *Sem, want ...int) {
	t.Helper()
	if got := values(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: values %v, want %v", what, got, want)
	}
}

func TestSemGet(t *testing.T) {
	ns := semNS(t)
	owner, stranger := semOwner(), semStranger()
	s := newSet(t, ns, 0x1234, 3, 0o640)
	st := s.table.Stat(s)
	if st.Nsems != 3 || st.Mode != 0o640 || st.UID != 1000 || st.CUID != 1000 || st.Otime != 0 || st.Ctime == 0 || st.Name != "0x00001234" {
		t.Errorf("new set: %+v", st)
	}
	wantValues(t, "new set", s, 0, 0, 0)

	for _, c := range []struct {
		what string
		c    *Cred
		req  SemGet
		want error
	}{
		{"same key, fewer sems", owner, SemGet{Key: 0x1234, Nsems: 2}, nil},
		{"same key, nsems 0", owner, SemGet{Key: 0x1234}, nil},
		{"same key, more sems", owner, SemGet{Key: 0x1234, Nsems: 4}, unix.EINVAL},
		{"IPC_CREAT|IPC_EXCL", owner, SemGet{Key: 0x1234, Nsems: 3, Create: true, Excl: true}, unix.EEXIST},
		{"no such key", owner, SemGet{Key: 0x999, Nsems: 1}, unix.ENOENT},
		{"create nsems 0", owner, SemGet{Key: 0x999, Create: true}, unix.EINVAL},
		{"private nsems 0", owner, SemGet{Key: IPCPrivate, Create: true}, unix.EINVAL},
		{"nsems past semmsl", owner, SemGet{Key: 0x1234, Nsems: 32001}, unix.EINVAL},
		{"negative nsems", owner, SemGet{Key: 0x1234, Nsems: -1}, unix.EINVAL},
		{"group may read", NewFixedCred(3000, 1000, 1, nil, 0), SemGet{Key: 0x1234, Access: AccessRead}, nil},
		{"group may not write", NewFixedCred(3000, 1000, 1, nil, 0), SemGet{Key: 0x1234, Access: AccessWrite}, unix.EACCES},
		{"other may not read", stranger, SemGet{Key: 0x1234, Access: AccessRead}, unix.EACCES},
		{"other asking nothing", stranger, SemGet{Key: 0x1234}, nil},
		{"root", semRoot(), SemGet{Key: 0x1234, Access: AccessRead | AccessWrite}, nil},
	} {
		got, err := ns.Sem.Get(c.c, c.req)
		semWant(t, c.what, err, c.want)
		if err == nil && got != s {
			t.Errorf("%s: found another set", c.what)
		}
	}
	if ns.Sem.InUse() != 1 || ns.Sem.Used() != 3 {
		t.Errorf("refused semgets changed the table: %d sets, %d sems", ns.Sem.InUse(), ns.Sem.Used())
	}

	p1 := newSet(t, ns, IPCPrivate, 1, 0o600)
	p2 := newSet(t, ns, IPCPrivate, 1, 0o600)
	if p1 == p2 || p1.table.Stat(p1).Name != fmt.Sprintf("private.%d", p1.perm.ID) {
		t.Errorf("IPC_PRIVATE: %+v %+v", p1.table.Stat(p1), p2.table.Stat(p2))
	}
}

func TestSemLimits(t *testing.T) {
	ns := semNS(t)
	if err := ns.SetLimit(semRoot(), "sem", "4 6 2 3"); err != nil {
		t.Fatal(err)
	}
	newSet(t, ns, 1, 4, 0o600)
	_, err := ns.Sem.Get(semOwner(), SemGet{Key: 2, Nsems: 5, Create: true})
	semWant(t, "nsems past semmsl", err, unix.EINVAL)
	_, err = ns.Sem.Get(semOwner(), SemGet{Key: 2, Nsems: 3, Create: true})
	semWant(t, "past semmns", err, unix.ENOSPC)
	b := newSet(t, ns, 2, 2, 0o600)
	_, err = ns.Sem.Get(semOwner(), SemGet{Key: 3, Nsems: 1, Create: true})
	semWant(t, "semmns used up", err, unix.ENOSPC)
	if err := ns.SetLimit(semRoot(), "sem", "4 100 2 3"); err != nil {
		t.Fatal(err)
	}
	newSet(t, ns, 3, 1, 0o600)
	_, err = ns.Sem.Get(semOwner(), SemGet{Key: 4, Nsems: 1, Create: true})
	semWant(t, "past semmni", err, unix.ENOSPC)
	if err := ns.Sem.Remove(semOwner(), b); err != nil {
		t.Fatal(err)
	}
	if ns.Sem.Used() != 5 {
		t.Errorf("used after removal: %d, want 5", ns.Sem.Used())
	}
	newSet(t, ns, 4, 1, 0o600)

	if err := ns.SetLimit(semRoot(), "sem", "4 100 2 4"); err != nil {
		t.Fatal(err)
	}
	s := newSet(t, ns, IPCPrivate, 1, 0o600)
	ops := []Sembuf{{0, 1, 0}, {0, 1, 0}, {0, -1, 0}}
	semWant(t, "3 ops past semopm 2", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: ops}), unix.E2BIG)
	semWant(t, "2 ops", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: ops[:2]}), nil)
	wantValues(t, "after semopm test", s, 2)
}

func TestSemSetAndRemove(t *testing.T) {
	ns := semNS(t)
	s := newSet(t, ns, 0x10, 2, 0o600)
	ctime := s.table.Stat(s).Ctime
	mode := uint32(0o604)
	semWant(t, "IPC_SET by stranger", ns.Sem.Set(semStranger(), s, SetAttr{Mode: &mode}), unix.EPERM)
	semWant(t, "IPC_SET with qbytes", ns.Sem.Set(semOwner(), s, SetAttr{QBytes: new(uint64)}), unix.EINVAL)
	uid := uint32(2000)
	semWant(t, "IPC_SET by creator", ns.Sem.Set(semOwner(), s, SetAttr{Mode: &mode, UID: &uid}), nil)
	st := s.table.Stat(s)
	if st.Mode != 0o604 || st.UID != 2000 || st.CUID != 1000 || st.Ctime <= ctime {
		t.Errorf("after IPC_SET: %+v", st)
	}
	// The new owner may now act on the set, and others may read it.
	semWant(t, "read by other", s.Op(t.Context(), NewFixedCred(4000, 4000, 1, nil, 0), 1, nil, SemOp{Ops: []Sembuf{{0, 0, 0}}}), nil)
	semWant(t, "RMID by stranger-now-owner", ns.Sem.Remove(semStranger(), s), nil)
	semWant(t, "RMID again", ns.Sem.Remove(semOwner(), s), unix.EIDRM)
	semWant(t, "IPC_SET after RMID", ns.Sem.Set(semOwner(), s, SetAttr{Mode: &mode}), unix.EIDRM)
	semWant(t, "semop after RMID", s.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: []Sembuf{{0, 1, 0}}}), unix.EIDRM)
	_, err := s.GetAll(semOwner())
	semWant(t, "GETALL after RMID", err, unix.EIDRM)
	if _, err := ns.Sem.Lookup(Ref{Key: 0x10}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup of removed key: %v", err)
	}
	if _, err := ns.Sem.Lookup(Ref{ByID: true, ID: s.perm.ID}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("lookup of removed id: %v", err)
	}
	if ns.Sem.InUse() != 0 || ns.Sem.Used() != 0 {
		t.Errorf("table after RMID: %d sets, %d sems", ns.Sem.InUse(), ns.Sem.Used())
	}
}

func TestSemCtl(t *testing.T) {
	ns := semNS(t)
	owner := semOwner()
	s := newSet(t, ns, 0x20, 3, 0o640)
	reader := NewFixedCred(3000, 1000, 3300, nil, 0) // in the group: read only

	semWant(t, "SETVAL -1", s.SetVal(owner, 5, 0, -1), unix.ERANGE)
	semWant(t, "SETVAL past SEMVMX", s.SetVal(owner, 5, 0, SemVMX+1), unix.ERANGE)
	semWant(t, "SETVAL semnum past nsems", s.SetVal(owner, 5, 3, 1), unix.EINVAL)
	semWant(t, "SETVAL by reader", s.SetVal(reader, 5, 0, 1), unix.EACCES)
	semWant(t, "SETVAL", s.SetVal(owner, 5, 1, SemVMX), nil)
	wantValues(t, "after SETVAL", s, 0, SemVMX, 0)

	semWant(t, "SETALL too few", s.SetAll(owner, 6, []int{1, 2}), unix.EINVAL)
	semWant(t, "SETALL too many", s.SetAll(owner, 6, []int{1, 2, 3, 4}), unix.EINVAL)
	semWant(t, "SETALL past SEMVMX", s.SetAll(owner, 6, []int{1, SemVMX + 1, 3}), unix.ERANGE)
	semWant(t, "SETALL negative", s.SetAll(owner, 6, []int{-1, 2, 3}), unix.ERANGE)
	semWant(t, "SETALL by reader", s.SetAll(reader, 6, []int{1, 2, 3}), unix.EACCES)
	wantValues(t, "after refused SETALLs", s, 0, SemVMX, 0)
	semWant(t, "SETALL", s.SetAll(owner, 6, []int{7, 8, 9}), nil)
	wantValues(t, "after SETALL", s, 7, 8, 9)

	for _, c := range []struct {
		q    SemQuery
		num  int
		want int
	}{{GetVal, 2, 9}, {GetPID, 0, 6}, {GetNcnt, 0, 0}, {GetZcnt, 1, 0}} {
		got, err := s.Query(reader, c.q, c.num)
		if err != nil || got != c.want {
			t.Errorf("query %d of %d: %d, %v; want %d", c.q, c.num, got, err, c.want)
		}
	}
	_, err := s.Query(reader, GetVal, 3)
	semWant(t, "GETVAL past nsems", err, unix.EINVAL)
	_, err = s.Query(reader, GetVal, -1)
	semWant(t, "GETVAL -1", err, unix.EINVAL)
	_, err = s.Query(semStranger(), GetVal, 0)
	semWant(t, "GETVAL by stranger", err, unix.EACCES)
	_, err = s.GetAll(semStranger())
	semWant(t, "GETALL by stranger", err, unix.EACCES)
	text, err := s.AppendValues([]byte("x:"), reader)
	if err != nil || string(text) != "x:7 8 9\n" {
		t.Errorf("values as text: %q, %v", text, err)
	}
}

// TestSemFreshSize: a set made by open(O_CREAT) has one semaphore until
// its first SETALL sizes it; once used, its size is fixed.
func TestSemFreshSize(t *testing.T) {
	ns := semNS(t)
	if err := ns.SetLimit(semRoot(), "sem", "5 6 500 10"); err != nil {
		t.Fatal(err)
	}
	owner := semOwner()
	get := func(key int32) *Sem {
		s, err := ns.Sem.Get(owner, SemGet{Key: key, Nsems: 1, Mode: 0o600, Create: true, Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := get(1)
	if a.table.Stat(a).Nsems != 1 {
		t.Fatalf("fresh set: %d sems", a.table.Stat(a).Nsems)
	}
	semWant(t, "SETALL by stranger", a.SetAll(semStranger(), 1, []int{1, 1}), unix.EACCES)
	semWant(t, "SETALL past semmsl", a.SetAll(owner, 1, []int{1, 1, 1, 1, 1, 1}), unix.EINVAL)
	semWant(t, "SETALL of nothing", a.SetAll(owner, 1, nil), unix.EINVAL)
	semWant(t, "SETALL past SEMVMX", a.SetAll(owner, 1, []int{1, SemVMX + 1}), unix.ERANGE)
	if a.table.Stat(a).Nsems != 1 || ns.Sem.Used() != 1 {
		t.Errorf("refused SETALLs resized the set")
	}
	semWant(t, "sizing SETALL", a.SetAll(owner, 1, []int{1, 0, 2, 0}), nil)
	wantValues(t, "sized", a, 1, 0, 2, 0)
	if ns.Sem.Used() != 4 {
		t.Errorf("used %d, want 4", ns.Sem.Used())
	}
	semWant(t, "second SETALL of another size", a.SetAll(owner, 1, []int{1, 0}), unix.EINVAL)

	b := get(2)
	semWant(t, "SETALL past semmns", b.SetAll(owner, 1, []int{1, 1, 1}), unix.ENOSPC)
	semWant(t, "SETALL within semmns", b.SetAll(owner, 1, []int{1, 1}), nil)

	if err := ns.SetLimit(semRoot(), "sem", "5 100 500 10"); err != nil {
		t.Fatal(err)
	}
	c := get(3)
	semWant(t, "semop", c.Op(t.Context(), owner, 1, nil, SemOp{Ops: []Sembuf{{0, 1, 0}}}), nil)
	semWant(t, "SETALL after use", c.SetAll(owner, 1, []int{1, 1}), unix.EINVAL)
	if got, _ := ns.Sem.Get(owner, SemGet{Key: 3, Nsems: 1, Create: true, Fresh: true}); got != c {
		t.Errorf("open(O_CREAT) of an existing key made a new set")
	}
}

func TestSemSysvipc(t *testing.T) {
	ns := semNS(t)
	newSet(t, ns, 0x162e, 2, 0o640)
	p := newSet(t, ns, IPCPrivate, 1, 0o600)
	if err := p.Op(t.Context(), semOwner(), 1, nil, SemOp{Ops: []Sembuf{{0, 1, 0}}}); err != nil {
		t.Fatal(err)
	}
	st := p.table.Stat(p)
	want := semHeader +
		"      5678          0   640          2  1000  1000  1000  1000          0       5001\n" +
		fmt.Sprintf("         0          1   600          1  1000  1000  1000  1000 %10d %10d\n", st.Otime, st.Ctime)
	if got := ns.Sem.SysvipcSem(); got != want {
		t.Errorf("sysvipc/sem:\n%s\nwant:\n%s", got, want)
	}
}
