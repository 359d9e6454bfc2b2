package kernelipc_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"golang.org/x/sys/unix"
)

// The *_INFO figures are the namespace's: IPC_INFO gives its limits as
// /proc/sys/kernel shows them, and the usage figures grow by what a test
// makes in it.
func TestInfo(t *testing.T) {
	_, ns := selfNS(t, kernelipc.Bounds{})
	procInt := func(name string) int {
		b, _ := os.ReadFile("/proc/sys/kernel/" + name)
		v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return v
	}
	lim0, use0, _, err := ns.ShmInfo(root())
	if err != nil {
		t.Fatal(err)
	}
	if int(lim0.ShmMni) != procInt("shmmni") || lim0.ShmMin != 1 {
		t.Errorf("shminfo %+v, shmmni %d", lim0, procInt("shmmni"))
	}
	mlim0, muse0, _, err := ns.MsgInfo(root())
	if err != nil {
		t.Fatal(err)
	}
	if int(mlim0.MsgMax) != procInt("msgmax") || int(mlim0.MsgMni) != procInt("msgmni") {
		t.Errorf("msginfo %+v", mlim0)
	}
	_, suse0, _, err := ns.SemInfo(nobody())
	if err != nil {
		t.Fatal(err)
	}

	shmgetHere(t, unix.IPC_PRIVATE, 3*4096+1, unix.IPC_CREAT|0o600)
	q, _, e := unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer unix.Syscall(unix.SYS_MSGCTL, q, unix.IPC_RMID, 0)
	s, _, e := unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, 4, unix.IPC_CREAT|0o600)
	if e != 0 {
		t.Fatal(e)
	}
	defer unix.Syscall6(unix.SYS_SEMCTL, s, 0, unix.IPC_RMID, 0, 0, 0)

	_, use1, _, _ := ns.ShmInfo(root())
	if use1.UsedIDs != use0.UsedIDs+1 || use1.ShmTot != use0.ShmTot+4 {
		t.Errorf("shm_info before %+v, after %+v", use0, use1)
	}
	_, muse1, _, _ := ns.MsgInfo(root())
	if muse1.MsgPool != muse0.MsgPool+1 {
		t.Errorf("msg_info before %+v, after %+v", muse0, muse1)
	}
	_, suse1, _, _ := ns.SemInfo(nobody())
	if suse1.SemUsz != suse0.SemUsz+1 || suse1.SemAem != suse0.SemAem+4 {
		t.Errorf("sem_info before %+v, after %+v", suse0, suse1)
	}
}
