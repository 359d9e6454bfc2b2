package tests

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sysvipcRows is the rows of a sysvipc table keyed by id, each cut to
// the columns given (by index).
func sysvipcRows(t *testing.T, path string, cols ...int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		var keep []string
		for _, c := range cols {
			keep = append(keep, f[c])
		}
		out[f[1]] = strings.Join(keep, " ")
	}
	return out
}

// killServer SIGKILLs the server of mnt (server_pid of shmfs status) and
// waits until a new server answers at the same path; it returns how long
// that took and the new status.
func killServer(t *testing.T, mnt string) (time.Duration, crashStatusJSON) {
	t.Helper()
	before := crashStatus(t, mnt)
	if before.ServerPID <= 0 {
		t.Fatalf("no server_pid: %+v", before)
	}
	if err := syscall.Kill(before.ServerPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var after crashStatusJSON
	waitFor(t, "a new server", func() bool {
		out, err := exec.Command(shmfsBin, "status", "--json", mnt).Output()
		if err != nil || !strings.Contains(string(out), `"server_pid"`) {
			return false
		}
		after = crashStatus(t, mnt)
		if after.ServerPID == before.ServerPID || after.ServerPID == 0 || after.Mode == "" {
			return false
		}
		_, err = os.Stat(mnt + "/default/sysvipc/shm")
		return err == nil
	})
	took := time.Since(start)
	if after.Restarts != before.Restarts+1 || after.KeeperPID != before.KeeperPID {
		t.Errorf("after the kill: %+v, before: %+v", after, before)
	}
	return took, after
}

// TestCrashRestoresState is issue 11's end-to-end test: a mount filled
// with segments (one IPC_SET to 0640, one removed while mapped), a queue
// holding messages of three types, a set after SETALL (and a SEM_UNDO
// semop of a handle that dies with the server), and a second namespace
// with its own shmmax; one segment stays mapped by another process. The
// server is SIGKILLed; the mount answers again at the same path, with the
// same sysvipc rows, contents, messages, values and limit, and the
// mapping and a new open share pages both ways.
func TestCrashRestoresState(t *testing.T) {
	logPath := t.TempDir() + "/shmfs.log"
	mnt := mountShmfs(t, "--log", logPath)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	ns := mnt + "/default"
	shOK(t, `set -e
printf 'contents of a' > `+ns+`/shm/0x0000a001
chmod 0640 `+ns+`/shm/0x0000a001
truncate -s 8192 `+ns+`/shm/0x0000a002
truncate -s 4096 `+ns+`/shm/0x0000a003
echo first > `+ns+`/msg/0x0000b001,mtext,mtype=3
echo second > `+ns+`/msg/0x0000b001,mtext,mtype=1
echo third > `+ns+`/msg/0x0000b001,mtext,mtype=2
echo fourth > `+ns+`/msg/0x0000b001,mtext,mtype=3
echo "SETALL 4 5 6" > `+ns+`/sem/0x0000c001
mkdir `+mnt+`/tenant
echo 65536 > `+mnt+`/tenant/limits/shmmax
truncate -s 100 `+mnt+`/tenant/shm/0x0000d001
`)
	mapper := startDriver(t, "python", -1, -1)
	slot := mapper.ok("map %s/shm/0x0000a002 8192", ns)
	mapper.ok("poke %s 10 mapped-before", slot)
	doomed := mapper.ok("map %s/shm/0x0000a003 4096", ns)
	mapper.ok("poke %s 0 doomed", doomed)
	shOK(t, "rm "+ns+"/shm/0x0000a003")
	// A handle with a SEM_UNDO adjustment, alive at the kill.
	undo := exec.Command("python3", "-c", `import os,sys,time
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"1 -2 SEM_UNDO")
print("ok", flush=True)
time.sleep(600)`, ns+"/sem/0x0000c001")
	out, _ := undo.StdoutPipe()
	if err := undo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { undo.Process.Kill(); undo.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("semop with SEM_UNDO: %q %v", line, err)
	}
	if got := strings.TrimSpace(shOK(t, "cat "+ns+"/sem/0x0000c001")); got != "4 3 6" {
		t.Fatalf("values before the kill: %q", got)
	}

	// key id perms size, and nattch
	shmCols := []int{0, 1, 2, 3, 6}
	shmBefore := sysvipcRows(t, ns+"/sysvipc/shm", shmCols...)
	msgBefore := sysvipcRows(t, ns+"/sysvipc/msg", 0, 1, 2, 3, 4)
	semBefore := sysvipcRows(t, ns+"/sysvipc/sem", 0, 1, 2, 3)
	tenantBefore := sysvipcRows(t, mnt+"/tenant/sysvipc/shm", shmCols...)

	took, st := killServer(t, mnt)
	t.Logf("the mount answered again %v after the SIGKILL (server %d, restarts %d)", took, st.ServerPID, st.Restarts)
	if took > 2*time.Second {
		t.Errorf("the mount took %v to answer again, want at most 2s", took)
	}

	for _, c := range []struct {
		path string
		cols []int
		want map[string]string
	}{
		{ns + "/sysvipc/shm", shmCols, shmBefore},
		{ns + "/sysvipc/msg", []int{0, 1, 2, 3, 4}, msgBefore},
		{ns + "/sysvipc/sem", []int{0, 1, 2, 3}, semBefore},
		{mnt + "/tenant/sysvipc/shm", shmCols, tenantBefore},
	} {
		got := sysvipcRows(t, c.path, c.cols...)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d rows after the restart, %d before:\n%v\n%v", c.path, len(got), len(c.want), got, c.want)
		}
		for id, row := range c.want {
			if got[id] != row {
				t.Errorf("%s id %s: %q after the restart, %q before", c.path, id, got[id], row)
			}
		}
	}
	if got := shOK(t, "cat "+ns+"/shm/0x0000a001"); !strings.HasPrefix(got, "contents of a") {
		t.Errorf("contents of a after the restart: %q", got)
	}
	if got := shOK(t, "stat -c %a "+ns+"/shm/0x0000a001"); strings.TrimSpace(got) != "640" {
		t.Errorf("mode after the restart: %q", got)
	}
	// The old mapping and a new open share pages, both ways.
	mapper2 := startDriver(t, "c", -1, -1)
	slot2 := mapper2.ok("map %s/shm/0x0000a002 8192", ns)
	if got := mapper2.ok("peek %s 10 13", slot2); got != "mapped-before" {
		t.Errorf("a new mapping reads %q", got)
	}
	mapper2.ok("poke %s 100 from-new", slot2)
	if got := mapper.ok("peek %s 100 8", slot); got != "from-new" {
		t.Errorf("the old mapping reads %q of the new one's store", got)
	}
	mapper.ok("poke %s 200 from-old", slot)
	if got := mapper2.ok("peek %s 200 8", slot2); got != "from-old" {
		t.Errorf("the new mapping reads %q of the old one's store", got)
	}
	// Messages in order, with their types.
	got := shOK(t, `python3 -c 'import os,struct,sys
for i in range(5):
    fd = os.open(sys.argv[1] + ",IPC_NOWAIT", os.O_RDONLY)
    try:
        b = os.read(fd, 65536)
    except OSError as e:
        print("end", e.errno)
        break
    finally:
        os.close(fd)
    print(struct.unpack("q", b[:8])[0], b[8:].decode().strip())
' `+ns+"/msg/0x0000b001")
	if want := "3 first\n1 second\n2 third\n3 fourth\nend 42\n"; got != want {
		t.Errorf("messages after the restart:\n%s\nwant\n%s", got, want)
	}
	// The handle with SEM_UNDO died with the server: released as a
	// close would, its adjustment applied.
	if got := strings.TrimSpace(shOK(t, "cat "+ns+"/sem/0x0000c001")); got != "4 5 6" {
		t.Errorf("values after the restart: %q, want 4 5 6 (the dead handle's SEM_UNDO applied)", got)
	}
	if got := strings.TrimSpace(shOK(t, "cat "+mnt+"/tenant/limits/shmmax")); got != "65536" {
		t.Errorf("tenant shmmax after the restart: %q", got)
	}
	if _, err := sh(t, "truncate -s 65537 "+mnt+"/tenant/shm/0x0000d001"); err == nil {
		t.Error("the tenant's shmmax does not hold after the restart")
	}
	// The removed segment lives while its mapping does, then goes.
	destID := ""
	for id, row := range sysvipcRows(t, ns+"/sysvipc/shm", 0, 2) {
		if strings.HasPrefix(row, "0 1") {
			destID = id
		}
	}
	if destID == "" {
		t.Fatal("the segment removed while mapped is gone after the restart")
	}
	if got := mapper.ok("peek %s 0 6", doomed); got != "doomed" {
		t.Errorf("the removed segment's mapping reads %q", got)
	}
	mapper.ok("unmap %s", doomed)
	waitFor(t, "the removed segment to go with its mapping", func() bool {
		_, ok := sysvipcRows(t, ns+"/sysvipc/shm", 0)[destID]
		return !ok
	})
	// The next id is the one the old server would have given: index 3,
	// past the free index 2, as the cyclic allocation goes on.
	id := strings.Fields(shOK(t, "exec 3<>"+ns+"/shm/ctl; echo 'IPC_CREAT key=0x0000a009 size=1 mode=0600' >&3; cat <&3"))
	if len(id) == 0 || id[0] != "3" {
		t.Errorf("IPC_CREAT after the restart: %q, want id 3", id)
	}
}
