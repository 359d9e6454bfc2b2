package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestShmCtl: the whole shm/ctl grammar through one handle from Python,
// each result read back on the same handle: IPC_CREAT (a key, IPC_EXCL,
// IPC_PRIVATE listed as private.<id>), SHM_LOCK and SHM_UNLOCK (the
// SHM_LOCKED 02000 bit), IPC_SET, IPC_RMID, by key, by private.<id> and
// by id=N.
func TestShmCtl(t *testing.T) {
	mnt := mountShmfs(t)
	shOK(t, "mkdir "+mnt+"/c")
	ns := mnt + "/c/"
	py := startDriver(t, "python", -1, -1)
	py.ok("ctlopen %sshm/ctl", ns)
	row := func(id int) *shmRow { return shmByID(shmTable(t, ns+"sysvipc/shm"), id) }
	ls := func() string { return strings.Join(strings.Fields(shOK(t, "ls "+ns+"shm")), " ") }
	step := func(cmd, want string) {
		t.Helper()
		if got := py.do("ctlw %s", cmd); got != want {
			t.Errorf("%q: %q, want %q", cmd, got, want)
		}
	}

	step("IPC_CREAT key=0x100 size=4096 mode=0640", "ok 0 0x00000100")
	step("IPC_CREAT key=0x100 size=4096 mode=0640 IPC_EXCL", "err EEXIST")
	// A refusal is the result of its command: the handle reads why.
	if got := py.ok("ctlr"); got != "EEXIST: key 0x100 exists (IPC_EXCL)" {
		t.Errorf("after a failed command the handle reads %q, want the reason", got)
	}
	step("IPC_CREAT key=0x100 size=100 mode=0600", "ok 0 0x00000100")
	step("IPC_CREAT key=0x100 size=8192 mode=0600", "err EINVAL")
	step("IPC_CREAT key=IPC_PRIVATE size=10 mode=0600", "ok 1 private.1")
	step("IPC_CREAT key=IPC_PRIVATE size=10 mode=0600 IPC_EXCL", "ok 2 private.2")
	step("IPC_CREAT key=0x101 size=5000 mode=0644 SHM_NORESERVE\\n", "ok 3 0x00000101")
	step("IPC_CREAT key=257 size=1 mode=0644", "ok 3 0x00000101")
	step("IPC_CREAT key=-2 size=1 mode=0600", "ok 4 0xfffffffe")
	if got := ls(); got != "0x00000100 0x00000101 0xfffffffe ctl info private.1 private.2" {
		t.Errorf("ls shm: %q", got)
	}
	r := row(1)
	if r == nil || r.Key != 0 || r.Size != 10 || r.Perms != 0o600 || r.CPID != atoi(t, py.pid) {
		t.Errorf("private.1: %+v", r)
	}
	if r := row(3); r == nil || r.Key != 0x101 || r.Size != 5000 || r.Perms != 0o644 {
		t.Errorf("0x101: %+v", r)
	}
	if r := row(4); r == nil || r.Key != -2 {
		t.Errorf("key 0xfffffffe is -2 in sysvipc/shm: %+v", r)
	}

	step("SHM_LOCK 0x100", "ok 0 0x00000100")
	if r := row(0); r.Perms != 0o2640 || r.RSS != 4096 {
		t.Errorf("locked: %+v, want perms 2640 and its page resident", r)
	}
	step("SHM_LOCK id=1", "ok 1 private.1")
	step("SHM_LOCK private.2", "ok 2 private.2")
	step("SHM_UNLOCK 0x100", "ok 0 0x00000100")
	step("SHM_UNLOCK 0x100", "ok 0 0x00000100")
	if r := row(0); r.Perms != 0o640 {
		t.Errorf("unlocked: %+v", r)
	}
	if r := row(2); r.Perms != 0o2600 {
		t.Errorf("private.2 locked: %+v", r)
	}

	step("IPC_SET 0x100 uid=65534 gid=65534 mode=0604", "ok 0 0x00000100")
	if r := row(0); r.UID != 65534 || r.GID != 65534 || r.CUID != 0 || r.Perms != 0o604 {
		t.Errorf("after IPC_SET: %+v", r)
	}
	step("IPC_SET id=0 mode=0644", "ok 0 0x00000100")
	step("IPC_SET private.2 gid=7", "ok 2 private.2")
	if r := row(0); r.UID != 65534 || r.Perms != 0o644 {
		t.Errorf("after IPC_SET by id: %+v", r)
	}
	if r := row(2); r.GID != 7 || r.Perms != 0o2600 {
		t.Errorf("IPC_SET keeps SHM_LOCKED: %+v", r)
	}

	step("IPC_RMID private.1", "ok 1 private.1")
	step("IPC_RMID id=2", "ok 2 private.2")
	step("IPC_RMID 0x101", "ok 3 0x00000101")
	step("IPC_RMID 0xfffffffe", "ok 4 0xfffffffe")
	if got := ls(); got != "0x00000100 ctl info" {
		t.Errorf("ls shm after IPC_RMID: %q", got)
	}
	if rows := shmTable(t, ns+"sysvipc/shm"); len(rows) != 1 || rows[0].ID != 0 {
		t.Errorf("sysvipc/shm after IPC_RMID: %+v", rows)
	}
	// A handle that never ran a command reads nothing.
	if got, err := os.ReadFile(ns + "shm/ctl"); err != nil || len(got) != 0 {
		t.Errorf("a fresh ctl handle reads %q, %v", got, err)
	}
}

// TestShmCtlBad: a malformed, unknown-object or forbidden command fails
// whole with the kernel's errno from write(2), changes nothing in the
// table, and leaves its reason on the handle, one line.
func TestShmCtlBad(t *testing.T) {
	mnt := mountShmfs(t)
	ns := mnt + "/default/"
	py := startDriver(t, "python", -1, -1)
	py.ok("ctlopen %sshm/ctl", ns)
	py.ok("ctlw IPC_CREAT key=0x100 size=4096 mode=0640")
	py.ok("ctlw IPC_CREAT key=IPC_PRIVATE size=4096 mode=0600")
	table, _ := os.ReadFile(ns + "sysvipc/shm")
	for _, c := range []struct{ cmd, errno string }{
		{"\\n", "EINVAL"},
		{"   ", "EINVAL"},
		{"FOO 0x100", "EINVAL"},
		{"ipc_rmid 0x100", "EINVAL"},
		{"IPC_RMID", "EINVAL"},
		{"IPC_RMID 0x100 extra", "EINVAL"},
		{"IPC_RMID 0x100 IPC_EXCL", "EINVAL"},
		{"IPC_RMID 0x100 id=0", "EINVAL"},
		{"IPC_RMID 0x100\\nIPC_RMID private.1", "EINVAL"},
		{"IPC_RMID 0x100\\0", "EINVAL"},
		{"IPC_RMID IPC_PRIVATE", "EINVAL"},
		{"IPC_RMID 0x999", "ENOENT"},
		{"IPC_RMID id=12345", "EINVAL"},
		{"IPC_RMID id=32768", "EINVAL"},
		{"IPC_RMID id=-1", "EINVAL"},
		{"IPC_RMID id=abc", "EINVAL"},
		{"IPC_RMID private.99", "EINVAL"},
		{"IPC_RMID private.01", "EINVAL"},
		{"IPC_SET 0x100", "EINVAL"},
		{"IPC_SET 0x100 mode=0999", "EINVAL"},
		{"IPC_SET 0x100 mode=01777", "EINVAL"},
		{"IPC_SET 0x100 mode=", "EINVAL"},
		{"IPC_SET 0x100 uid=abc", "EINVAL"},
		{"IPC_SET 0x100 uid=-1", "EINVAL"},
		{"IPC_SET 0x100 uid=4294967295", "EINVAL"},
		{"IPC_SET 0x100 gid=4294967296", "EINVAL"},
		{"IPC_SET 0x100 mode=0600 mode=0644", "EINVAL"},
		{"IPC_SET 0x100 qbytes=5", "EINVAL"},
		{"IPC_SET 0x100 mode=0600 bogus=1", "EINVAL"},
		{"IPC_SET 0x100 mode=0600 uid=zz", "EINVAL"},
		{"IPC_SET 0x999 mode=0600", "ENOENT"},
		{"IPC_SET id=7 mode=0600", "EINVAL"},
		{"SHM_LOCK", "EINVAL"},
		{"SHM_LOCK 0x100 x", "EINVAL"},
		{"SHM_UNLOCK 0x999", "ENOENT"},
		{"IPC_CREAT size=10", "EINVAL"},
		{"IPC_CREAT key=0x102", "EINVAL"},
		{"IPC_CREAT key=zz size=1", "EINVAL"},
		{"IPC_CREAT key=0x102 size=0", "EINVAL"},
		{"IPC_CREAT key=0x102 size=abc", "EINVAL"},
		{"IPC_CREAT key=0x102 size=-1", "EINVAL"},
		{"IPC_CREAT key=0x102 size=18446744073709551615", "EINVAL"},
		{"IPC_CREAT key=0x102 size=10 BOGUS", "EINVAL"},
		{"IPC_CREAT key=0x102 size=10 mode=0888", "EINVAL"},
		{"IPC_CREAT key=0x102 size=10 mode=0600 mode=0600", "EINVAL"},
		{"IPC_CREAT 0x102 size=10", "EINVAL"},
		{"IPC_CREAT key=0x100 size=10 mode=0600 IPC_EXCL", "EEXIST"},
		{"IPC_CREAT key=0x100 size=8192", "EINVAL"},
	} {
		if got := py.do("ctlw %s", c.cmd); got != "err "+c.errno {
			t.Errorf("%q: %q, want err %s", c.cmd, got, c.errno)
		}
		// The handle reads the reason, a line of its own.
		if got := py.ok("ctlr"); !strings.HasPrefix(got, c.errno+": ") || strings.Contains(got, "\n") {
			t.Errorf("after %q the handle reads %q, want %s and a reason", c.cmd, got, c.errno)
		}
		if now, _ := os.ReadFile(ns + "sysvipc/shm"); string(now) != string(table) {
			t.Fatalf("%q changed the table:\n%s\nwas\n%s", c.cmd, now, table)
		}
	}
	if out := shOK(t, "ls "+ns+"shm"); strings.Join(strings.Fields(out), " ") != "0x00000100 ctl info private.1" {
		t.Errorf("ls shm: %q", out)
	}
}

// TestShmCtlShell: from the shell, a failed command is one line on stderr
// with the errno's message, and a non-zero exit; a good one is silent.
func TestShmCtlShell(t *testing.T) {
	mnt := mountShmfs(t)
	ctl := mnt + "/default/shm/ctl"
	shOK(t, "echo 'IPC_CREAT key=0x42 size=4096 mode=0600' > "+ctl)
	for _, c := range []struct{ shell, cmd, msg string }{
		{"sh", "/bin/echo 'IPC_RMID 0x999' > " + ctl, "No such file or directory"},
		{"sh", "/bin/echo 'NONSENSE' > " + ctl, "Invalid argument"},
		{"bash", "echo 'IPC_SET 0x42' > " + ctl, "Invalid argument"},
		{"bash", "echo 'IPC_CREAT key=0x42 size=1 mode=0600 IPC_EXCL' > " + ctl, "File exists"},
	} {
		cmd := exec.Command(c.shell, "-c", c.cmd)
		out, err := cmd.CombinedOutput()
		if err == nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), c.msg) {
			t.Errorf("%s -c %q: %v, output %q, want one line with %q", c.shell, c.cmd, err, out, c.msg)
		}
	}
	// The result is read back on the same descriptor, with no seek.
	out := shOK(t, "exec 3<>"+ctl+"; echo 'IPC_CREAT key=0x43 size=1 mode=0600' >&3; cat <&3; echo 'IPC_SET 0x43 mode=0644' >&3; cat <&3")
	if out != "1 0x00000043\n1 0x00000043\n" {
		t.Errorf("results read back in sh: %q", out)
	}
	py := `import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"IPC_RMID 0x43")
print(os.read(fd, 100).decode(), end="")
try:
    os.write(fd, b"IPC_RMID 0x43")
except OSError as e:
    print(e.errno == 2)
print(os.pread(fd, 100, 0).decode(), end="")
`
	if out, err := runCmd(t, nil, pythonBin(), "-c", py, ctl); err != nil || out != "1 0x00000043\nTrue\nENOENT: no object 0x00000043\n" {
		t.Errorf("python read back: %q %v", out, err)
	}
	if out, err := exec.Command("bash", "-c", "echo 'IPC_RMID 0x42' > "+ctl).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("a good command: %v %q", err, out)
	}
	if _, err := os.Stat(mnt + "/default/shm/0x00000042"); !os.IsNotExist(err) {
		t.Errorf("IPC_RMID from the shell left the segment: %v", err)
	}
}
