package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// An ipcTenant is a process of the test in a kernel IPC namespace of its
// own (unshare --ipc), which lives until the tenant ends. Commands run in
// that namespace through nsenter, as root or as another user.
type ipcTenant struct {
	t   testing.TB
	cmd *exec.Cmd
	in  io.WriteCloser
	pid int
	// ns is the inode number of the namespace's nsfs file.
	ns   uint64
	errb bytes.Buffer
}

// newTenant starts a process in a new kernel IPC namespace, as uid:gid
// (root when uid < 0), which runs the shell script setup and then waits
// for the tenant to end, in the directory setup left it in.
func newTenant(t testing.TB, uid, gid int, setup string) *ipcTenant {
	t.Helper()
	argv := []string{"unshare", "--ipc"}
	argv = append(argv, asUser(uid, gid)...)
	argv = append(argv, "sh", "-c", "set -e\n"+setup+"\necho ready\nexec cat >/dev/null")
	k := &ipcTenant{t: t, cmd: exec.Command(argv[0], argv[1:]...)}
	k.cmd.Stderr = &k.errb
	var err error
	if k.in, err = k.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.end)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			k.end()
			t.Fatalf("tenant setup %q failed: %s", setup, k.errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tenant setup %q: no ready line in 30s", setup)
	}
	k.pid = k.cmd.Process.Pid
	k.ns = nsInode(t, k.pid)
	return k
}

// asUser is the setpriv prefix that runs a command as uid:gid with no
// supplementary groups, or nothing for root (uid < 0).
func asUser(uid, gid int) []string {
	if uid < 0 {
		return nil
	}
	return []string{"setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups"}
}

// nsInode is the inode of the kernel IPC namespace of process pid.
func nsInode(t testing.TB, pid int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/ipc", pid), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// name is what MOUNT/self of a namespace made by first use reads.
func (k *ipcTenant) name() string { return fmt.Sprintf("ipc-%d", k.ns) }

// enter is the prefix that runs a command in the tenant's namespace.
func (k *ipcTenant) enter(uid, gid int) []string {
	return append([]string{"nsenter", "-t", fmt.Sprint(k.pid), "--ipc"}, asUser(uid, gid)...)
}

// sh runs a shell script in the tenant's namespace.
func (k *ipcTenant) sh(uid, gid int, script string) (string, error) {
	k.t.Helper()
	argv := append(k.enter(uid, gid), "sh", "-c", script)
	return runCmd(k.t, nil, argv[0], argv[1:]...)
}

// shOK is sh that must succeed.
func (k *ipcTenant) shOK(uid, gid int, script string) string {
	k.t.Helper()
	out, err := k.sh(uid, gid, script)
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// driver starts a C driver (shm_driver_test.go) in the tenant's
// namespace.
func (k *ipcTenant) driver(uid, gid int) *driver {
	k.t.Helper()
	buildDrivers(k.t)
	return startDriverArgv(k.t, fmt.Sprintf("c@%s", k.name()), append(k.enter(uid, gid), driverCBin))
}

// end ends the tenant's process; its kernel namespace ends with it
// unless something else holds it.
func (k *ipcTenant) end() { stopCmd(k.cmd, k.in) }

// probePy answers, for each argument OP:PATH[:TEXT], one line: "ok" and
// what the operation gave, or the name of the errno it failed with.
const probePy = `import errno, os, sys
for arg in sys.argv[1:]:
    op, path, *rest = arg.split(":", 2)
    try:
        if op == "stat":
            os.stat(path); r = "ok"
        elif op == "list":
            r = "ok " + " ".join(sorted(os.listdir(path)))
        elif op == "read":
            with open(path, "rb") as f:
                r = "ok " + f.read().decode(errors="replace").rstrip("\n")
        elif op == "readlink":
            r = "ok " + os.readlink(path)
        elif op == "chdir":
            os.chdir(path); r = "ok"
        elif op == "create":
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o666)); r = "ok"
        elif op == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, rest[0].encode())
            finally:
                os.close(fd)
            r = "ok"
        elif op == "mkdir":
            os.mkdir(path); r = "ok"
        elif op == "rmdir":
            os.rmdir(path); r = "ok"
        elif op == "unlink":
            os.unlink(path); r = "ok"
        else:
            r = "bad op " + op
    except OSError as e:
        r = errno.errorcode[e.errno]
    print(r, flush=True)
`

var (
	probeOnce sync.Once
	probePath string
)

// probeArgv is the command line of the probe with its arguments.
func probeArgv(t testing.TB, ops []string) []string {
	t.Helper()
	probeOnce.Do(func() {
		probePath = filepath.Join(workDir, "probe.py")
		if err := os.WriteFile(probePath, []byte(probePy), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	return append([]string{pythonBin(), probePath}, ops...)
}

// probe runs the probe in the tenant's namespace (on the host when k is
// nil) as uid:gid, and returns its answers, one per operation.
func (k *ipcTenant) probe(uid, gid int, ops ...string) []string {
	k.t.Helper()
	return runProbe(k.t, append(k.enter(uid, gid), probeArgv(k.t, ops)...))
}

// hostProbe is probe on the host, in the server's namespaces.
func hostProbe(t testing.TB, uid, gid int, ops ...string) []string {
	t.Helper()
	return runProbe(t, append(asUser(uid, gid), probeArgv(t, ops)...))
}

func runProbe(t testing.TB, argv []string) []string {
	t.Helper()
	out, err := runCmd(t, nil, argv[0], argv[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// expect checks the probe's answers against want, operation by
// operation.
func expect(t testing.TB, who string, ops, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d answers %q, want %d", who, len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: %s: %q, want %q", who, ops[i], got[i], want[i])
		}
	}
}

// check runs ops with the probe in k's namespace and checks the answers.
func (k *ipcTenant) check(who string, uid, gid int, ops []string, want ...string) {
	k.t.Helper()
	expect(k.t, who, ops, k.probe(uid, gid, ops...), want...)
}

// TestContainerSelf: MOUNT/self leads each kernel IPC namespace to its
// own shmfs namespace, made with default limits by its first use and
// named after it; the server's own kernel namespace is default's. Two
// tenants write the same key and each reads back its own data; the host
// sees both.
func TestContainerSelf(t *testing.T) {
	mnt := mountShmfs(t)
	if got := hostProbe(t, -1, -1, "readlink:"+mnt+"/self"); got[0] != "ok default" {
		t.Fatalf("the host's self: %q, want default", got)
	}
	if got := hostProbe(t, 65534, 65534, "readlink:"+mnt+"/self"); got[0] != "ok default" {
		t.Errorf("nobody on the host: self %q, want default", got)
	}
	a := newTenant(t, -1, -1, "")
	b := newTenant(t, 65534, 65534, "")
	if a.ns == b.ns {
		t.Fatal("two tenants share a kernel namespace")
	}
	for _, k := range []*ipcTenant{a, b} {
		uid, gid := -1, -1
		if k == b {
			uid, gid = 65534, 65534
		}
		key := mnt + "/self/shm/0x00001234"
		k.check(k.name(), uid, gid,
			[]string{"readlink:" + mnt + "/self", "create:" + key, "write:" + key + ":data of " + k.name(), "read:" + key},
			"ok "+k.name(), "ok", "ok", "ok data of "+k.name())
	}
	// The host: both namespaces, and each key holds its tenant's data.
	got := hostProbe(t, -1, -1, "list:"+mnt,
		"read:"+mnt+"/"+a.name()+"/shm/0x00001234", "read:"+mnt+"/"+b.name()+"/shm/0x00001234",
		"read:"+mnt+"/"+a.name()+"/ctl", "read:"+mnt+"/default/ctl", "read:"+mnt+"/"+a.name()+"/limits/shmmni")
	want := []string{
		"ok " + strings.Join(sortedNames("default", kernelName, "self", a.name(), b.name()), " "),
		"ok data of " + a.name(), "ok data of " + b.name(),
		fmt.Sprintf("ok bound ipc:[%d] auto", a.ns), fmt.Sprintf("ok bound ipc:[%d]", nsInode(t, os.Getpid())),
		"ok 4096",
	}
	expect(t, "host", []string{"list", "read a", "read b", "ctl a", "ctl default", "limits"}, got, want...)
	// The default namespace did not get the key.
	if _, err := os.Stat(mnt + "/default/shm/0x00001234"); !os.IsNotExist(err) {
		t.Errorf("default/shm/0x00001234: %v, want ENOENT", err)
	}
	// The kernel asks for self at every walk: one process that moves to
	// another kernel namespace (setns) is led to the other namespace.
	script := fmt.Sprintf(`import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
key = %q
print(open(key).read())
fd = os.open("/proc/%d/ns/ipc", os.O_RDONLY)
if libc.setns(fd, 0x08000000) != 0:
    raise OSError(ctypes.get_errno(), "setns")
print(open(key).read())
`, mnt+"/self/shm/0x00001234", b.pid)
	out, err := runCmd(t, nil, "nsenter", "-t", fmt.Sprint(a.pid), "--ipc", pythonBin(), "-c", script)
	if want := "data of " + a.name() + "\ndata of " + b.name() + "\n"; err != nil || out != want {
		t.Errorf("self before and after setns: %q, %v; want %q", out, err, want)
	}
}

// TestContainerSelfOutsidePidNS: a caller outside the server's pid
// namespace shows FUSE pid 0, which names no process: self is ENOENT
// for it, as /proc/self is for a reader outside that /proc's pid
// namespace, rather than some other caller's namespace.
func TestContainerSelfOutsidePidNS(t *testing.T) {
	dir, err := os.MkdirTemp("", "shmfs-mnt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	os.Chmod(dir, 0o755)
	// The server in a pid namespace of its own, in the foreground of
	// unshare; the test is outside it.
	srv := exec.Command("unshare", "--pid", "--fork", "--kill-child", shmfsBin, "mount", dir)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	srv.Stderr = &errb
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Unmount(dir, 0)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Unmount(dir, syscall.MNT_DETACH)
			srv.Process.Kill()
			<-done
		}
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.Contains(line, "mounted on") {
		t.Fatalf("server: %q %s", line, errb.String())
	}
	got := hostProbe(t, -1, -1, "readlink:"+dir+"/self", "list:"+dir)
	expect(t, "outside the pid namespace", []string{"readlink self", "list"}, got, "ENOENT", "ok default kernel self")
}

// sortedNames sorts names as os.listdir and ls do for these names.
func sortedNames(names ...string) []string {
	out := append([]string(nil), names...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestContainerFixedEntries: self and the fixed children of a namespace
// cannot be removed (EPERM), and are still there after the attempts.
func TestContainerFixedEntries(t *testing.T) {
	mnt := mountShmfs(t)
	ns := mnt + "/default"
	ops := []string{
		"unlink:" + mnt + "/self", "unlink:" + ns + "/ctl", "rmdir:" + ns + "/shm", "rmdir:" + ns + "/sysvipc",
		"rmdir:" + ns + "/limits", "unlink:" + ns + "/limits/shmmax", "unlink:" + ns + "/sysvipc/shm",
		"readlink:" + mnt + "/self", "list:" + ns, "read:" + ns + "/ctl", "read:" + ns + "/limits/shmmni",
		"list:" + ns + "/sysvipc", "list:" + mnt,
	}
	expect(t, "root", ops, hostProbe(t, -1, -1, ops...),
		"EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM",
		"ok default", "ok ctl limits msg sem shm sysvipc", fmt.Sprintf("ok bound ipc:[%d]", nsInode(t, os.Getpid())),
		"ok 4096", "ok msg sem shm", "ok default kernel self")
}
