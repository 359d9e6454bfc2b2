package kernelipc_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

// statusUID is the effective uid in a thread's status file.
func statusUID(t *testing.T, tid string) string {
	b, err := os.ReadFile("/proc/self/task/" + tid + "/status")
	if err != nil {
		return "" // the thread ended meanwhile
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Join(strings.Fields(rest), " ")
		}
	}
	t.Fatalf("no Uid line for %s", tid)
	return ""
}

// The call runs as the caller on its thread alone: uid 65534 is refused
// root's 0600 segment by the kernel, while every other thread of the
// process stays root.
func TestCredentialsArePerThread(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	id := shmgetHere(t, 0x600, 4096, unix.IPC_CREAT|0o600)

	_, err := ns.ShmAttach(nobody(), id, false)
	wantErrno(t, "shmat as 65534", err, unix.EACCES)
	_, err = ns.ShmStat(nobody(), id)
	wantErrno(t, "IPC_STAT as 65534", err, unix.EACCES)
	wantErrno(t, "IPC_RMID as 65534", ns.ShmRmid(nobody(), id), unix.EPERM)
	mode := uint32(0o666)
	wantErrno(t, "IPC_SET as 65534", ns.ShmSet(nobody(), id, kernelipc.SetAttr{Mode: &mode}), unix.EPERM)

	var inside, others []string
	err = ns.Call(nobody(), func() error {
		me := fmt.Sprint(unix.Gettid())
		inside = append(inside, statusUID(t, me), statusUID(t, "self"))
		r, e, s := unix.Getresuid()
		inside = append(inside, fmt.Sprint(r, e, s))
		if g, _ := unix.Getgroups(); len(g) != 0 {
			return fmt.Errorf("groups %v", g)
		}
		// Every other thread of the process, seen from this one.
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, d := range tasks {
			if d.Name() != me {
				if u := statusUID(t, d.Name()); u != "" {
					others = append(others, u)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside[0] != "65534 65534 0 65534" || inside[2] != "65534 65534 0" {
		t.Errorf("serving thread: status %q, getresuid %q", inside[0], inside[2])
	}
	if len(others) == 0 {
		t.Fatal("no other thread seen")
	}
	for _, u := range others {
		if u != "0 0 0 0" {
			t.Errorf("another thread has uid %q during the call", u)
		}
	}
	// Restored afterwards: the same pool thread serves root again.
	if _, err := ns.ShmStat(root(), id); err != nil {
		t.Errorf("IPC_STAT as root after: %v", err)
	}
	a, err := ns.ShmAttach(root(), id, true)
	if err != nil {
		t.Fatalf("shmat as root: %v", err)
	}
	a.Close()
}

// Supplementary groups count, and a root caller without CAP_IPC_OWNER is
// refused another user's segment, as the kernel refuses it.
func TestGroupsAndCapabilities(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	// Made by uid 1000 itself, so that root is neither owner nor creator.
	id, err := ns.ShmGet(kernelipc.NewCred(1000, 100, nil), 0x640, 4096, unix.IPC_CREAT|0o640)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	if ds, _ := ns.ShmStatAny(id); ds.Perm.Cuid != 1000 || ds.Perm.Cgid != 100 {
		t.Fatalf("creator %d/%d", ds.Perm.Cuid, ds.Perm.Cgid)
	}
	member := kernelipc.NewCred(2000, 2000, []uint32{100})
	if a, err := ns.ShmAttach(member, id, false); err != nil {
		t.Errorf("read attach by a supplementary member of group 100: %v", err)
	} else {
		a.Close()
	}
	_, err = ns.ShmAttach(member, id, true)
	wantErrno(t, "write attach by group member of a 0640 segment", err, unix.EACCES)
	_, err = ns.ShmAttach(kernelipc.NewCred(2000, 2000, nil), id, false)
	wantErrno(t, "read attach by a stranger", err, unix.EACCES)

	powerless := kernelipc.NewCred(0, 0, nil)
	powerless.Caps = 0
	_, err = ns.ShmAttach(powerless, id, false)
	wantErrno(t, "root without capabilities", err, unix.EACCES)
	ipcOwner := kernelipc.NewCred(2000, 2000, nil)
	ipcOwner.Caps = 1 << unix.CAP_IPC_OWNER
	if a, err := ns.ShmAttach(ipcOwner, id, true); err != nil {
		t.Errorf("uid 2000 with CAP_IPC_OWNER: %v", err)
	} else {
		a.Close()
	}
	wantErrno(t, "IPC_RMID by uid 2000 with only CAP_IPC_OWNER", ns.ShmRmid(ipcOwner, id), unix.EPERM)
	if err := ns.ShmRmid(kernelipc.NewCred(1000, 1000, nil), id); err != nil {
		t.Errorf("IPC_RMID by the owner: %v", err)
	}
}

// CredOf reads a process's groups and capabilities.
func TestCredOf(t *testing.T) {
	c := kernelipc.CredOf(0, 0, int32(os.Getpid()))
	if c.Caps == 0 || c.Caps&(1<<unix.CAP_SYS_ADMIN) == 0 {
		t.Errorf("root test process caps %#x", c.Caps)
	}
	if c := kernelipc.CredOf(65534, 65534, 0); c.Caps != 0 {
		t.Errorf("uid 65534 caps %#x", c.Caps)
	}
}
