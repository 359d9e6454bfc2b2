package nsmodel_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// The parties of the permission tests: the segment is created by
// creator/cgroup and then given to user/group by IPC_SET.
const (
	creatorUID, creatorGID = 3000, 3000
	userUID, groupGID      = 4000, 4000
	nobodyUID, nobodyGID   = 9001, 9000
)

var callers = []identity{
	{name: "uid", uid: userUID, gid: nobodyGID},
	{name: "cuid", uid: creatorUID, gid: nobodyGID},
	{name: "gid", uid: nobodyUID, gid: groupGID},
	{name: "cgid", uid: nobodyUID, gid: creatorGID},
	{name: "supplementary gid", uid: nobodyUID, gid: nobodyGID, groups: []uint32{5, groupGID}},
	{name: "supplementary cgid", uid: nobodyUID, gid: nobodyGID, groups: []uint32{creatorGID}},
	{name: "uid in gid", uid: userUID, gid: groupGID},
	{name: "other", uid: nobodyUID, gid: nobodyGID},
	{name: "other with CAP_IPC_OWNER", uid: nobodyUID, gid: nobodyGID, caps: capBit(nsmodel.CapIPCOwner)},
	{name: "other with CAP_SYS_ADMIN", uid: nobodyUID, gid: nobodyGID, caps: capBit(nsmodel.CapSysAdmin)},
	{name: "root", uid: 0, gid: 0},
}

var (
	permModes    = []uint32{0, 0o400, 0o200, 0o600, 0o040, 0o004, 0o044, 0o060, 0o006, 0o707, 0o070, 0o777, 0o111, 0o644}
	permRequests = []uint32{0, 0o400, 0o200, 0o600, 0o040, 0o004, 0o100, 0o444, 0o666, 0o007}
)

// shmctl commands x/sys/unix does not name (linux/shm.h).
const (
	shmLock   = 11
	shmUnlock = 12
)

var creator = identity{name: "creator", uid: creatorUID, gid: creatorGID}

// TestIpcpermsAsTheKernel asks the kernel and the model the same shmget
// of an existing key, for every caller class, segment mode and requested
// mode, and wants the same answer.
func TestIpcpermsAsTheKernel(t *testing.T) {
	tab, _, _ := shmTable(t)
	inPrivateIPC(t, func() {
		for i, mode := range permModes {
			key := int32(0x5000 + i)
			var kid int
			var err error
			as(t, creator, func() { kid, err = unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|0o600) })
			if err != nil {
				t.Errorf("kernel shmget as creator: %v", err)
				return
			}
			s := create(t, tab, creator.cred(), key, 4096, 0o600)
			uid, gid := uint32(userUID), uint32(groupGID)
			if err := tab.Set(root(), s, nsmodel.SetAttr{UID: &uid, GID: &gid, Mode: &mode}); err != nil {
				t.Errorf("model IPC_SET: %v", err)
			}
			desc := unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: uid, Gid: gid, Mode: mode}}
			if _, err := unix.SysvShmCtl(kid, unix.IPC_SET, &desc); err != nil {
				t.Errorf("kernel IPC_SET: %v", err)
			}
			for _, who := range callers {
				for _, req := range permRequests {
					var kerr error
					as(t, who, func() { _, kerr = unix.SysvShmGet(int(key), 0, int(req)) })
					_, merr := tab.Get(who.cred(), nsmodel.ShmGet{Key: key, Mode: req})
					if errnoOf(kerr) != errnoOf(merr) {
						t.Errorf("mode %03o, %s asks %03o: kernel %v, model %v", mode, who.name, req, errName(kerr), errName(merr))
					}
				}
			}
		}
	})
}

// TestOwnerRulesAsTheKernel asks IPC_SET and IPC_RMID of a segment that
// creator made and gave to user, as every caller class.
func TestOwnerRulesAsTheKernel(t *testing.T) {
	tab, _, _ := shmTable(t)
	inPrivateIPC(t, func() {
		for i, who := range callers {
			key := int32(0x6000 + i)
			var kid int
			var err error
			as(t, creator, func() { kid, err = unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|0o644) })
			if err != nil {
				t.Errorf("kernel shmget: %v", err)
				return
			}
			s := create(t, tab, creator.cred(), key, 4096, 0o644)
			uid, gid, mode := uint32(userUID), uint32(groupGID), uint32(0o666)
			tab.Set(root(), s, nsmodel.SetAttr{UID: &uid, GID: &gid, Mode: &mode})
			desc := unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: uid, Gid: gid, Mode: mode}}
			unix.SysvShmCtl(kid, unix.IPC_SET, &desc)

			set := func(what string, u, g, m uint32) {
				d := unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: u, Gid: g, Mode: m}}
				var kerr error
				as(t, who, func() { _, kerr = unix.SysvShmCtl(kid, unix.IPC_SET, &d) })
				merr := tab.Set(who.cred(), s, nsmodel.SetAttr{UID: &u, GID: &g, Mode: &m})
				if errnoOf(kerr) != errnoOf(merr) {
					t.Errorf("%s: IPC_SET %s: kernel %v, model %v", who.name, what, errName(kerr), errName(merr))
				}
			}
			set("of the same values", uid, gid, mode)
			set("of uid -1", ^uint32(0), gid, mode)
			set("of gid -1", uid, ^uint32(0), mode)

			var kerr error
			as(t, who, func() { _, kerr = unix.SysvShmCtl(kid, unix.IPC_RMID, nil) })
			merr := tab.Remove(who.cred(), s)
			if errnoOf(kerr) != errnoOf(merr) {
				t.Errorf("%s: IPC_RMID: kernel %v, model %v", who.name, errName(kerr), errName(merr))
			}
			unix.SysvShmCtl(kid, unix.IPC_RMID, nil)
		}
	})
}

// TestShmLockAsTheKernel runs SHM_LOCK and SHM_UNLOCK as the kernel
// checks them: owner or creator or CAP_IPC_LOCK, a non-zero
// RLIMIT_MEMLOCK, and the pages of the caller's locked segments within
// it. RLIMIT_MEMLOCK is the process's, so the test sets it and puts it
// back; each caller runs under its own real uid, as the kernel charges
// locked pages to the real uid.
func TestShmLockAsTheKernel(t *testing.T) {
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &saved); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &saved)
	tab, _, _ := shmTable(t)
	page := int(nsmodel.PageSize)
	// The hard limit cannot be raised without CAP_SYS_RESOURCE, which a
	// container's root may lack: the largest limit is the hard one.
	big := saved.Max
	if big < uint64(8*page) {
		t.Skipf("RLIMIT_MEMLOCK hard limit %d is too small", big)
	}
	type step struct {
		who    identity
		seg    int  // which segment
		lock   bool // SHM_LOCK, or SHM_UNLOCK
		rlimit uint64
	}
	ownerA := identity{name: "owner A", uid: userUID, gid: groupGID}
	creatorA := identity{name: "creator A", uid: creatorUID, gid: creatorGID}
	lockCap := identity{name: "other with CAP_IPC_LOCK", uid: nobodyUID, gid: nobodyGID, caps: capBit(nsmodel.CapIPCLock)}
	other := identity{name: "other", uid: nobodyUID, gid: nobodyGID}
	steps := []step{
		{other, 0, true, big},                      // not owner: EPERM
		{ownerA, 0, true, 0},                       // RLIMIT_MEMLOCK 0: EPERM
		{ownerA, 0, true, uint64(page)},            // 2 pages over 1: ENOMEM
		{ownerA, 0, true, uint64(2*page + page/2)}, // 2 pages in 2.5: rounded down, fits
		{ownerA, 0, true, uint64(2 * page)},        // already locked: nothing to do
		{ownerA, 1, true, uint64(3 * page)},        // 2 locked + 2 more over 3: ENOMEM
		{ownerA, 1, true, big},                     // room enough
		{other, 0, false, 0},                       // not owner: EPERM
		{creatorA, 0, false, 0},                    // the creator may, with no limit
		{creatorA, 0, false, 0},                    // not locked: nothing to do
		{lockCap, 2, true, 0},                      // CAP_IPC_LOCK: no owner, no limit
		{lockCap, 2, false, 0},
		{ownerA, 1, false, 0},
	}
	inPrivateIPC(t, func() {
		var kids []int
		var segs []*nsmodel.Shm
		for i := 0; i < 3; i++ {
			var kid int
			var err error
			as(t, creatorA, func() { kid, err = unix.SysvShmGet(0x7000+i, 2*page, unix.IPC_CREAT|0o600) })
			if err != nil {
				t.Errorf("kernel shmget: %v", err)
				return
			}
			defer unix.SysvShmCtl(kid, unix.IPC_RMID, nil)
			s := create(t, tab, creatorA.cred(), int32(0x7000+i), uint64(2*page), 0o600)
			uid := uint32(userUID)
			tab.Set(root(), s, nsmodel.SetAttr{UID: &uid})
			unix.SysvShmCtl(kid, unix.IPC_SET, &unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: uid, Gid: creatorGID, Mode: 0o600}})
			kids, segs = append(kids, kid), append(segs, s)
		}
		for i, st := range steps {
			lim := unix.Rlimit{Cur: st.rlimit, Max: saved.Max}
			if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
				t.Errorf("setrlimit: %v", err)
				return
			}
			cmd := shmUnlock
			if st.lock {
				cmd = shmLock
			}
			var kerr error
			as(t, st.who, func() { _, kerr = unix.SysvShmCtl(kids[st.seg], cmd, nil) })
			merr := tab.Lock(st.who.cred().WithMemlock(st.rlimit), segs[st.seg], st.lock)
			what := fmt.Sprintf("step %d: %s, lock %v of segment %d, RLIMIT_MEMLOCK %d", i, st.who.name, st.lock, st.seg, st.rlimit)
			if errnoOf(kerr) != errnoOf(merr) {
				t.Errorf("%s: kernel %v, model %v", what, errName(kerr), errName(merr))
			}
			var d unix.SysvShmDesc
			unix.SysvShmCtl(kids[st.seg], unix.IPC_STAT, &d)
			if got := tab.Stat(segs[st.seg]).Mode; got != d.Perm.Mode {
				t.Errorf("%s: kernel mode %o, model mode %o", what, d.Perm.Mode, got)
			}
		}
	})
}

// The rules again, one by one, without the kernel.

func TestCheckClasses(t *testing.T) {
	p := nsmodel.Perm{UID: 10, GID: 20, CUID: 11, CGID: 21, Mode: 0o640}
	cases := []struct {
		c      *nsmodel.Cred
		access uint32
		want   error
	}{
		{nsmodel.NewFixedCred(10, 99, 1, nil, 0), nsmodel.AccessRead | nsmodel.AccessWrite, nil},
		{nsmodel.NewFixedCred(11, 99, 1, nil, 0), nsmodel.AccessWrite, nil},
		{nsmodel.NewFixedCred(99, 20, 1, nil, 0), nsmodel.AccessRead, nil},
		{nsmodel.NewFixedCred(99, 20, 1, nil, 0), nsmodel.AccessWrite, unix.EACCES},
		{nsmodel.NewFixedCred(99, 99, 1, []uint32{21}, 0), nsmodel.AccessRead, nil},
		{nsmodel.NewFixedCred(99, 99, 1, []uint32{7}, 0), nsmodel.AccessRead, unix.EACCES},
		{nsmodel.NewFixedCred(99, 99, 1, nil, capBit(nsmodel.CapIPCOwner)), nsmodel.AccessWrite, nil},
		{nsmodel.NewFixedCred(99, 99, 1, nil, capBit(nsmodel.CapSysAdmin)), nsmodel.AccessRead, unix.EACCES},
		{nsmodel.NewFixedCred(99, 99, 1, nil, 0), 0, nil},
	}
	for i, c := range cases {
		wantErr(t, fmt.Sprintf("case %d", i), p.Check(c.c, c.access), c.want)
	}
	// The owner class is chosen first, even when it grants less than the
	// group class would.
	q := nsmodel.Perm{UID: 10, GID: 20, CUID: 10, CGID: 20, Mode: 0o070}
	wantErr(t, "owner in the group of a 070 object", q.Check(nsmodel.NewFixedCred(10, 20, 1, nil, 0), nsmodel.AccessRead), unix.EACCES)
}

func TestCheckOwner(t *testing.T) {
	p := nsmodel.Perm{UID: 10, GID: 20, CUID: 11, CGID: 21, Mode: 0o777}
	wantErr(t, "uid", p.CheckOwner(nsmodel.NewFixedCred(10, 0, 1, nil, 0)), nil)
	wantErr(t, "cuid", p.CheckOwner(nsmodel.NewFixedCred(11, 0, 1, nil, 0)), nil)
	wantErr(t, "gid", p.CheckOwner(nsmodel.NewFixedCred(99, 20, 1, nil, 0)), unix.EPERM)
	wantErr(t, "CAP_IPC_OWNER", p.CheckOwner(nsmodel.NewFixedCred(99, 99, 1, nil, capBit(nsmodel.CapIPCOwner))), unix.EPERM)
	wantErr(t, "CAP_SYS_ADMIN", p.CheckOwner(nsmodel.NewFixedCred(99, 99, 1, nil, capBit(nsmodel.CapSysAdmin))), nil)
}

func TestSetAttr(t *testing.T) {
	tab, _, _ := shmTable(t)
	s := create(t, tab, owner(), 0x10, 1, 0o600)
	before := tab.Stat(s)

	bad := ^uint32(0)
	for _, a := range []nsmodel.SetAttr{{UID: &bad}, {GID: &bad}} {
		wantErr(t, "IPC_SET of id -1", tab.Set(owner(), s, a), unix.EINVAL)
	}
	wantErr(t, "IPC_SET by a stranger", tab.Set(stranger(), s, nsmodel.SetAttr{}), unix.EPERM)
	q := uint64(1)
	wantErr(t, "IPC_SET of msg_qbytes", tab.Set(owner(), s, nsmodel.SetAttr{QBytes: &q}), unix.EINVAL)
	if after := tab.Stat(s); after.Perm != before.Perm {
		t.Errorf("refused IPC_SETs changed %+v to %+v", before.Perm, after.Perm)
	}

	// The nine permission bits are taken, SHM_DEST and SHM_LOCKED kept.
	ns := tab
	if err := ns.Lock(owner().WithMemlock(1<<20), s, true); err != nil {
		t.Fatal(err)
	}
	uid, gid, mode := uint32(otherUID), uint32(otherGID), uint32(0o7777)
	if err := tab.Set(owner(), s, nsmodel.SetAttr{UID: &uid, GID: &gid, Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	st := tab.Stat(s)
	if st.UID != otherUID || st.GID != otherGID || st.Mode != nsmodel.ShmLocked|0o777 || st.CUID != ownerUID {
		t.Errorf("after IPC_SET: %+v", st.Perm)
	}
	// The creator keeps the right to IPC_SET after giving the segment away.
	wantErr(t, "IPC_SET by the creator", tab.Set(owner(), s, nsmodel.SetAttr{Mode: &mode}), nil)
	tab.Lock(owner(), s, false)
}

func TestOwnCred(t *testing.T) {
	// A caller's credentials are read from /proc the first time a rule
	// needs them: compare with what this process is.
	c := nsmodel.NewCred(uint32(os.Geteuid()), uint32(os.Getegid()), int32(os.Getpid()))
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if !c.InGroup(uint32(g)) {
			t.Errorf("supplementary group %d not seen", g)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	for _, cp := range []uint{nsmodel.CapIPCLock, nsmodel.CapIPCOwner, nsmodel.CapSysAdmin, nsmodel.CapSysResource} {
		if want := data[0].Effective&(1<<cp) != 0; c.Capable(cp) != want {
			t.Errorf("capability %d: model says %v", cp, !want)
		}
	}
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl)
	if got := c.MemlockLimit(); got != rl.Cur {
		t.Errorf("RLIMIT_MEMLOCK %d, model says %d", rl.Cur, got)
	}
	// A process that is gone has what its uid implies.
	gone := nsmodel.NewCred(1234, 1234, 1<<30)
	if gone.Capable(nsmodel.CapIPCOwner) || gone.InGroup(0) {
		t.Errorf("a vanished non-root process has root's rights")
	}
}

// TestCapsOfAnotherUserNamespace: the root of a user namespace of its own
// has every capability there, and none over shmfs's objects.
func TestCapsOfAnotherUserNamespace(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	cmd := exec.Command("unshare", "--user", "--map-root-user", "sh", "-c", "grep CapEff /proc/self/status; read x")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare --user: %v", err)
	}
	defer cmd.Wait()
	defer in.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "CapEff") || strings.HasSuffix(strings.TrimSpace(line), "0000000000000000") {
		t.Skipf("no capabilities in a new user namespace here: %q, %v", line, err)
	}
	// As FUSE would present it: the uid mapped out of the namespace.
	c := nsmodel.NewCred(uint32(os.Geteuid()), uint32(os.Getegid()), int32(cmd.Process.Pid))
	for _, cp := range []uint{nsmodel.CapIPCOwner, nsmodel.CapSysAdmin, nsmodel.CapIPCLock} {
		if c.Capable(cp) {
			t.Errorf("capability %d of a child user namespace counts", cp)
		}
	}
	if self := nsmodel.NewCred(0, 0, int32(os.Getpid())); os.Geteuid() == 0 && !self.Capable(nsmodel.CapIPCOwner) {
		t.Errorf("the test's own root has no CAP_IPC_OWNER")
	}
}

// TestMemlockOfAnotherUser: the RLIMIT_MEMLOCK of a caller running as
// another user is read, whether or not the server may prlimit it.
func TestMemlockOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv")
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"sh", "-c", "ulimit -l 64 && echo ready && read x")
	out, _ := cmd.StdoutPipe()
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	c := nsmodel.NewCred(65534, 65534, int32(cmd.Process.Pid))
	if got := c.MemlockLimit(); got != 64<<10 {
		t.Errorf("RLIMIT_MEMLOCK of a nobody process: %d, want %d", got, 64<<10)
	}
}
