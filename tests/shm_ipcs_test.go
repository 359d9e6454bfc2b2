package tests

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// inProcView runs a shell script in a private mount namespace where
// MOUNT/<ns>/sysvipc/shm is bind-mounted over /proc/sysvipc/shm, so that
// the real ipcs and lsipc read shmfs.
func inProcView(t testing.TB, table, script string) string {
	t.Helper()
	out, err := runCmd(t, nil, "unshare", "-m", "sh", "-c",
		"mount --make-rprivate / && mount --bind "+table+" /proc/sysvipc/shm && "+script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShmIpcsLsipc: sysvipc/shm is byte-compatible with /proc/sysvipc/shm:
// bind-mounted over it, the real ipcs -m and lsipc -m list the shmfs
// segments with their keys, ids, sizes, perms, owners, nattch and
// status.
func TestShmIpcsLsipc(t *testing.T) {
	mnt := mountShmfs(t)
	ns := mnt + "/default/"
	d := startDriver(t, "c", -1, -1)
	d.ok("ctl %sshm/ctl IPC_CREAT key=0x162e size=4096 mode=0640", ns)
	d.ok("ctl %sshm/ctl IPC_CREAT key=IPC_PRIVATE size=100000 mode=0600", ns)
	d.ok("ctl %sshm/ctl IPC_CREAT key=0xfffffffe size=1 mode=0666", ns)
	d.ok("ctl %sshm/ctl SHM_LOCK 0x162e", ns)
	d.ok("chown %sshm/0xfffffffe 65534 65534", ns)
	d.ok("map %sshm/0x0000162e 4096", ns)
	holder := startDriver(t, "python", -1, -1)
	holder.ok("map %sshm/private.1 100000", ns)
	d.ok("unlink %sshm/private.1", ns)

	out := inProcView(t, ns+"sysvipc/shm", "ipcs -m")
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasPrefix(f[0], "0x") {
			got = append(got, strings.Join(f, " "))
		}
	}
	want := []string{
		"0x0000162e 0 root 640 4096 1 locked",
		"0x00000000 1 root 600 100000 1 dest",
		"0xfffffffe 2 nobody 666 1 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ipcs -m lists\n%s\nwant\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}

	js := inProcView(t, ns+"sysvipc/shm", "lsipc -m -J -b -P -o KEY,ID,PERMS,SIZE,NATTCH,UID,CUID,CPID,STATUS")
	var doc struct {
		Sharedmemory []map[string]any `json:"sharedmemory"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("lsipc -J: %v\n%s", err, js)
	}
	str := func(v any) string {
		switch v := v.(type) {
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			return ""
		}
		return fmt.Sprint(v)
	}
	var lines []string
	for _, s := range doc.Sharedmemory {
		lines = append(lines, strings.TrimSpace(strings.Join([]string{str(s["key"]), str(s["id"]), str(s["perms"]), str(s["size"]),
			str(s["nattch"]), str(s["uid"]), str(s["cuid"]), str(s["cpid"]), str(s["status"])}, " ")))
	}
	pid := d.pid
	wantL := []string{
		"0x0000162e 0 0640 4096 1 0 0 " + pid + " locked",
		"0x00000000 1 0600 100000 1 0 0 " + pid + " dest",
		"0xfffffffe 2 0666 1 0 65534 0 " + pid,
	}
	if strings.Join(lines, "\n") != strings.Join(wantL, "\n") {
		t.Errorf("lsipc -m lists\n%s\nwant\n%s\nfull output:\n%s", strings.Join(lines, "\n"), strings.Join(wantL, "\n"), js)
	}

	// ipcs -m -i reads one segment the same way.
	one := inProcView(t, ns+"sysvipc/shm", "ipcs -m -i 2")
	for _, w := range []string{"shmid=2", "uid=65534", "cuid=0", "mode=0666", "bytes=1", "nattch=0", "cpid=" + pid} {
		if !strings.Contains(one, w) {
			t.Errorf("ipcs -m -i 2 lacks %q:\n%s", w, one)
		}
	}
	// The bind mount stayed in its namespace.
	if isMounted("/proc/sysvipc/shm") {
		t.Error("/proc/sysvipc/shm is mounted over outside the test's mount namespace")
	}
}
