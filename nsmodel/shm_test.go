package nsmodel_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

var page = nsmodel.PageSize

// memfdSize is the size of the segment's pages as the kernel sees them.
func memfdSize(t *testing.T, s *nsmodel.Shm) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(s.Fd(), &st); err != nil {
		t.Fatal(err)
	}
	return st.Size
}

// sysvipcRow is the row of id in the table's /proc/sysvipc/shm, split
// into fields, or nil.
func sysvipcRow(tab *nsmodel.ShmTable, id int32) []string {
	for _, line := range strings.Split(tab.SysvipcShm(), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == fmt.Sprint(id) {
			return f
		}
	}
	return nil
}

func TestDeferredDestruction(t *testing.T) {
	tab, ns, log := shmTable(t)
	s := create(t, tab, owner(), 0x42, 3*page, 0o600)
	if _, err := tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Access: nsmodel.AccessRead | nsmodel.AccessWrite}); err != nil {
		t.Fatal(err)
	}
	data := []byte("still here")
	if _, err := unix.Pwrite(s.Fd(), data, int64(page)); err != nil {
		t.Fatal(err)
	}
	id := s.ID

	wantErr(t, "IPC_RMID by a stranger", tab.Remove(stranger(), s), unix.EPERM)
	if err := tab.Remove(owner(), s); err != nil {
		t.Fatal(err)
	}
	st := tab.Stat(s)
	if st.Mode != nsmodel.ShmDest|0o600 || st.Key != 0 || st.Deleted || st.Nattch != 1 {
		t.Errorf("after IPC_RMID with an attach: mode %o key %d deleted %v nattch %d", st.Mode, st.Key, st.Deleted, st.Nattch)
	}
	if st.Name != fmt.Sprintf("private.%d", id) {
		t.Errorf("name after IPC_RMID: %q", st.Name)
	}
	if row := sysvipcRow(tab, id); row == nil || row[0] != "0" || row[2] != "1600" || row[6] != "1" {
		t.Errorf("sysvipc row after IPC_RMID: %q", row)
	}
	_, err := tab.Lookup(nsmodel.Ref{Key: 0x42})
	wantErr(t, "key lookup after IPC_RMID", err, unix.ENOENT)
	if got, err := tab.Lookup(nsmodel.Ref{ByID: true, ID: id}); got != s || err != nil {
		t.Errorf("id lookup after IPC_RMID: %v, %v", got, err)
	}
	if len(tab.List()) != 0 {
		t.Errorf("List shows a removed segment")
	}
	// The pages are still there, and still counted against shmall.
	got := make([]byte, len(data))
	if _, err := unix.Pread(s.Fd(), got, int64(page)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("pages after IPC_RMID: %q, %v", got, err)
	}
	if log.open() != 1 {
		t.Errorf("%d page stores open, want 1", log.open())
	}
	setLimit(t, ns, "shmall", "4")
	_, err = tab.Get(owner(), nsmodel.ShmGet{Key: 0x43, Size: 2 * page, Mode: 0o600, Create: true})
	wantErr(t, "2 pages next to a removed 3-page segment, shmall 4", err, unix.ENOSPC)

	// The key is free for a new segment, which gets a new id.
	again := create(t, tab, owner(), 0x42, page, 0o600)
	if again.ID == id {
		t.Errorf("recreated key got the id of the removed segment")
	}

	// IPC_RMID of a removed segment is allowed, as the kernel allows it;
	// an attach by id still works, as shmat on a SHM_DEST segment does.
	wantErr(t, "second IPC_RMID", tab.Remove(owner(), s), nil)
	wantErr(t, "attach after IPC_RMID", tab.Attach(owner(), s, nsmodel.AccessRead), nil)
	tab.Detach(s, 100)
	if log.open() != 2 || tab.Stat(s).Deleted {
		t.Fatalf("destroyed before the last detach")
	}
	tab.Detach(s, 100)

	// The last detach destroyed it.
	if log.open() != 1 {
		t.Errorf("%d page stores open after the last detach, want 1", log.open())
	}
	if !tab.Stat(s).Deleted {
		t.Errorf("not deleted after the last detach")
	}
	if sysvipcRow(tab, id) != nil {
		t.Errorf("destroyed segment still in sysvipc/shm")
	}
	_, err = tab.Lookup(nsmodel.Ref{ByID: true, ID: id})
	wantErr(t, "id lookup after destruction", err, unix.EINVAL)
	mode := uint32(0o644)
	wantErr(t, "attach after destruction", tab.Attach(owner(), s, nsmodel.AccessRead), unix.EIDRM)
	wantErr(t, "IPC_SET after destruction", tab.Set(owner(), s, nsmodel.SetAttr{Mode: &mode}), unix.EIDRM)
	wantErr(t, "IPC_RMID after destruction", tab.Remove(owner(), s), unix.EIDRM)
	wantErr(t, "truncate after destruction", tab.Truncate(owner(), s, page, false), unix.EIDRM)
	wantErr(t, "SHM_LOCK after destruction", tab.Lock(root(), s, true), unix.EIDRM)
	// And its pages no longer count.
	create(t, tab, owner(), 0x43, 3*page, 0o600)
}

func TestRemoveUnattachedDestroysAtOnce(t *testing.T) {
	tab, _, log := shmTable(t)
	s := create(t, tab, owner(), 0x42, page, 0o600)
	if err := tab.Remove(root(), s); err != nil {
		t.Fatal(err)
	}
	if log.open() != 0 || !tab.Stat(s).Deleted || len(tab.Stats()) != 0 {
		t.Errorf("unattached segment not destroyed by IPC_RMID")
	}
}

func TestAttachDetachTimesAndPids(t *testing.T) {
	m, _ := newModel(t)
	clock := int64(1000)
	m.Now = func() int64 { return clock }
	tab := m.Get(nsmodel.DefaultNamespace).Shm
	s := create(t, tab, nsmodel.NewFixedCred(ownerUID, ownerGID, 11, nil, 0), 0x42, page, 0o640)
	clock = 2000
	wantErr(t, "attach by a stranger", tab.Attach(stranger(), s, nsmodel.AccessRead), unix.EACCES)
	if err := tab.Attach(nsmodel.NewFixedCred(otherUID, ownerGID, 22, nil, 0), s, nsmodel.AccessRead); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "group attach for writing", tab.Attach(nsmodel.NewFixedCred(otherUID, ownerGID, 22, nil, 0), s, nsmodel.AccessWrite), unix.EACCES)
	st := tab.Stat(s)
	if st.CPID != 11 || st.LPID != 22 || st.Nattch != 1 || st.Atime != 2000 || st.Dtime != 0 || st.Ctime != 1000 {
		t.Errorf("after attach: %+v", st)
	}
	clock = 3000
	tab.Detach(s, 33)
	st = tab.Stat(s)
	if st.LPID != 33 || st.Nattch != 0 || st.Dtime != 3000 || st.Atime != 2000 {
		t.Errorf("after detach: %+v", st)
	}
	tab.Detach(s, 44) // no attach left: nothing moves
	if st2 := tab.Stat(s); st2.Nattch != 0 || st2.LPID != 33 {
		t.Errorf("detach without an attach: %+v", st2)
	}
}

func TestOpen(t *testing.T) {
	tab, _, _ := shmTable(t)
	rw := uint32(nsmodel.AccessRead | nsmodel.AccessWrite)
	_, err := tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Access: rw})
	wantErr(t, "open of an unknown key without O_CREAT", err, unix.ENOENT)

	// A file created by open is opened whatever its mode, and sized later.
	s, err := tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Mode: 0, Create: true, Access: rw, AllowEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := tab.Stat(s); st.Size != 0 || st.Nattch != 1 || st.Mode != 0 || st.CUID != ownerUID {
		t.Errorf("created by open: %+v", st)
	}
	_, err = tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Create: true, Excl: true, Access: rw, AllowEmpty: true})
	wantErr(t, "O_CREAT|O_EXCL of an existing key", err, unix.EEXIST)
	_, err = tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Access: nsmodel.AccessRead})
	wantErr(t, "the owner opens a mode 000 segment", err, unix.EACCES)
	if _, err := tab.Open(root(), nsmodel.ShmGet{Key: 0x42, Access: rw}); err != nil {
		t.Errorf("root opens a mode 000 segment: %v", err)
	}
	if st := tab.Stat(s); st.Nattch != 2 {
		t.Errorf("nattch %d after two opens", st.Nattch)
	}
	_, err = tab.Get(owner(), nsmodel.ShmGet{Key: 0x44, Mode: 0o600, Create: true})
	wantErr(t, "shmget of size 0", err, unix.EINVAL)
}

func TestTruncate(t *testing.T) {
	m, _ := newModel(t)
	clock := int64(1000)
	m.Now = func() int64 { return clock }
	ns := m.Get(nsmodel.DefaultNamespace)
	tab := ns.Shm
	s := create(t, tab, owner(), 0x42, page, 0o604)
	setLimit(t, ns, "shmmax", fmt.Sprint(10*page))
	setLimit(t, ns, "shmall", "4")
	clock = 2000

	unchanged := func(what string, err, want error) {
		t.Helper()
		wantErr(t, what, err, want)
		if st := tab.Stat(s); st.Size != page || st.Ctime != 1000 || memfdSize(t, s) != int64(page) {
			t.Errorf("%s changed the segment: size %d, ctime %d, memfd %d", what, st.Size, st.Ctime, memfdSize(t, s))
		}
	}
	unchanged("truncate over shmmax", tab.Truncate(owner(), s, 10*page+1, false), unix.EINVAL)
	unchanged("truncate over shmall", tab.Truncate(owner(), s, 4*page+1, false), unix.ENOSPC)
	unchanged("truncate by path without write permission", tab.Truncate(stranger(), s, 2*page, true), unix.EACCES)
	unchanged("truncate to the same size", tab.Truncate(owner(), s, page, false), nil)

	wantErr(t, "truncate to shmall", tab.Truncate(stranger(), s, 4*page, false), nil)
	if st := tab.Stat(s); st.Size != 4*page || st.Ctime != 2000 || memfdSize(t, s) != int64(4*page) {
		t.Errorf("after truncate: size %d ctime %d memfd %d", st.Size, st.Ctime, memfdSize(t, s))
	}
	_, err := tab.Get(owner(), nsmodel.ShmGet{Key: 0x43, Size: 1, Mode: 0o600, Create: true})
	wantErr(t, "a page more than shmall", err, unix.ENOSPC)

	// A namespace over shmall (the limit lowered under it) may shrink,
	// not grow.
	setLimit(t, ns, "shmall", "1")
	wantErr(t, "shrink over shmall", tab.Truncate(owner(), s, 3*page+1, false), nil)
	wantErr(t, "grow within the last page", tab.Truncate(owner(), s, 4*page, false), nil)
	wantErr(t, "grow a page over shmall", tab.Truncate(owner(), s, 4*page+1, false), unix.ENOSPC)
	wantErr(t, "shrink to 0", tab.Truncate(owner(), s, 0, false), nil)
	wantErr(t, "the one page of shmall", tab.Truncate(owner(), s, page, false), nil)
	if st := tab.Stat(s); st.Size != page || memfdSize(t, s) != int64(page) {
		t.Errorf("after shrinking: size %d memfd %d", st.Size, memfdSize(t, s))
	}
}

// TestStatLooksOnce: one look at the pages gives both size and rss.
func TestStatLooksOnce(t *testing.T) {
	tab, _, log := shmTable(t)
	s := create(t, tab, owner(), 0x42, page, 0o600)
	for i := int32(1); i <= 2; i++ {
		create(t, tab, owner(), 0x42+i, page, 0o600)
	}
	n := log.statCalls()
	tab.Stat(s)
	if got := log.statCalls() - n; got != 1 {
		t.Errorf("Stat looked at the pages %d times", got)
	}
	n = log.statCalls()
	tab.SysvipcShm()
	if got := log.statCalls() - n; got != 3 {
		t.Errorf("sysvipc/shm of 3 segments looked at the pages %d times", got)
	}
}

func TestResident(t *testing.T) {
	tab, _, _ := shmTable(t)
	s := create(t, tab, owner(), 0x42, 16*page, 0o600)
	if r := tab.Stat(s).Resident; r != 0 {
		t.Errorf("a new segment has %d resident bytes", r)
	}
	unix.Pwrite(s.Fd(), []byte{1}, int64(5*page))
	unix.Pwrite(s.Fd(), []byte{1}, int64(9*page))
	if r := tab.Stat(s).Resident; r != int64(2*page) {
		t.Errorf("two touched pages: %d resident bytes", r)
	}
}

func TestLockAccounting(t *testing.T) {
	tab, _, _ := shmTable(t)
	limit := 4 * page // the owner may pin 4 pages
	me := func() *nsmodel.Cred { return owner().WithMemlock(limit) }
	a := create(t, tab, owner(), 0x42, 3*page, 0o600)
	b := create(t, tab, owner(), 0x43, 2*page, 0o600)

	if err := tab.Lock(me(), a, true); err != nil {
		t.Fatal(err)
	}
	st := tab.Stat(a)
	if st.Mode != nsmodel.ShmLocked|0o600 || st.Resident != int64(3*page) {
		t.Errorf("locked: mode %o, %d resident bytes", st.Mode, st.Resident)
	}
	if row := sysvipcRow(tab, a.ID); row == nil || row[2] != "2600" {
		t.Errorf("sysvipc row of a locked segment: %q", row)
	}
	wantErr(t, "3 + 2 pages over 4", tab.Lock(me(), b, true), unix.ENOMEM)
	wantErr(t, "SHM_UNLOCK", tab.Lock(me(), a, false), nil)
	if st := tab.Stat(a); st.Mode != 0o600 {
		t.Errorf("unlocked: mode %o", st.Mode)
	}
	wantErr(t, "2 pages after the unlock", tab.Lock(me(), b, true), nil)
	wantErr(t, "2 + 3 pages over 4", tab.Lock(me(), a, true), unix.ENOMEM)

	// Growing a locked segment keeps it pinned and charges the new pages
	// to whoever locked it.
	wantErr(t, "grow a locked segment", tab.Truncate(owner(), b, 4*page, false), nil)
	if st := tab.Stat(b); st.Resident != int64(4*page) || st.Mode&nsmodel.ShmLocked == 0 {
		t.Errorf("grown locked segment: %d resident, mode %o", st.Resident, st.Mode)
	}
	c := create(t, tab, owner(), 0x44, 1, 0o600)
	wantErr(t, "4 + 1 pages over 4", tab.Lock(me(), c, true), unix.ENOMEM)
	wantErr(t, "shrink a locked segment", tab.Truncate(owner(), b, 3*page, false), nil)
	wantErr(t, "3 + 1 pages", tab.Lock(me(), c, true), nil)

	// Destruction gives the charge back.
	tab.Lock(me(), c, false)
	tab.Remove(owner(), b)
	wantErr(t, "3 pages after destroying the locked one", tab.Lock(me(), a, true), nil)

	// CAP_IPC_LOCK passes every check; its pages are charged, not
	// refused.
	lockCap := nsmodel.NewFixedCred(otherUID, otherGID, 1, nil, capBit(nsmodel.CapIPCLock))
	wantErr(t, "CAP_IPC_LOCK locks another's segment", tab.Lock(lockCap, c, true), nil)
	wantErr(t, "CAP_IPC_LOCK unlocks another's segment", tab.Lock(lockCap, a, false), nil)
	wantErr(t, "a stranger unlocks", tab.Lock(stranger(), c, false), unix.EPERM)
}

func TestHugeTLB(t *testing.T) {
	tab, _, _ := shmTable(t)
	s, err := tab.Get(owner(), nsmodel.ShmGet{Key: 0x42, Size: 5000, Mode: 0o600, Create: true, HugeTLB: true})
	if err != nil {
		t.Skipf("no huge page memfd here: %v", err)
	}
	st := tab.Stat(s)
	if st.Mode != 0o600 || st.Size != 5000 {
		t.Errorf("huge page segment: mode %o size %d, want 600 and 5000", st.Mode, st.Size)
	}
	if ms := memfdSize(t, s); ms < 5000 || ms%int64(2*page) != 0 {
		t.Errorf("huge page memfd of %d bytes", ms)
	}
	// SHM_LOCK of huge pages checks permission and does nothing else.
	wantErr(t, "SHM_LOCK of huge pages", tab.Lock(owner().WithMemlock(page), s, true), nil)
	wantErr(t, "SHM_LOCK of huge pages without RLIMIT_MEMLOCK", tab.Lock(owner(), s, true), unix.EPERM)
	if st := tab.Stat(s); st.Mode != 0o600 {
		t.Errorf("locked huge page segment: mode %o", st.Mode)
	}
}

// TestRemovedSegmentHoldsItsSlot: a segment waiting for its last detach
// still counts against shmmni, as it stays in the kernel's id table.
func TestRemovedSegmentHoldsItsSlot(t *testing.T) {
	tab, ns, _ := shmTable(t)
	setLimit(t, ns, "shmmni", "1")
	s, err := tab.Open(owner(), nsmodel.ShmGet{Key: 0x42, Size: page, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	tab.Remove(owner(), s)
	_, err = tab.Get(owner(), nsmodel.ShmGet{Key: 0x42, Size: page, Mode: 0o600, Create: true})
	wantErr(t, "create next to a removed, attached segment at shmmni 1", err, unix.ENOSPC)
	tab.Detach(s, 1)
	create(t, tab, owner(), 0x42, page, 0o600)
}
