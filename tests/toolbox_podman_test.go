package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// podmanArgs are what podman needs on the machines this suite runs on,
// before the command: runc, because crun refuses a host whose cgroups are
// in hybrid mode ("cgroups in hybrid mode not supported"), and cgroupfs,
// which runc needs where systemd does not manage the cgroups.
var podmanArgs = []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs"}

// podmanRunArgs: podman's default RLIMIT_NOFILE and RLIMIT_NPROC are
// above the hard limits of a root without CAP_SYS_RESOURCE (as in a
// container), which runc may not raise.
var podmanRunArgs = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

// needPodman makes sure podman, runc and busybox-static are there,
// installing them with apt-get if not (.ci/run installs them first).
func needPodman(t *testing.T) {
	t.Helper()
	var need []string
	for tool, pkg := range map[string]string{"podman": "podman", "runc": "runc", "busybox": "busybox-static"} {
		if _, err := exec.LookPath(tool); err != nil {
			need = append(need, pkg)
		}
	}
	if len(need) == 0 {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("podman test: %s not installed and no apt-get to install them", strings.Join(need, ", "))
	}
	t.Logf("installing %s with apt-get", strings.Join(need, " "))
	cmd := exec.Command("apt-get", append([]string{"install", "-y", "-qq"}, need...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install %s: %v\n%s", strings.Join(need, " "), err, out)
	}
}

// busyboxRootfs makes a root file system of busybox-static alone, which
// podman run --rootfs takes without a registry.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	os.Chmod(r, 0o755)
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp", "mnt/shmfs"} {
		os.MkdirAll(filepath.Join(r, d), 0o755)
	}
	bb, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(r, "bin/busybox"), data, 0o755)
	for _, a := range []string{"sh", "ls", "cat", "echo", "printf", "readlink", "sleep", "head", "tr", "true"} {
		os.Symlink("busybox", filepath.Join(r, "bin", a))
	}
	return r
}

func podman(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCmd(t, nil, "podman", append(append([]string{}, podmanArgs...), args...)...)
}

// TestToolboxPodman runs the recipe of docs/containers.md with a real
// container engine: shmfs mount --isolate on the host, two podman
// containers with private IPC namespaces, each given the whole mount as
// a bind volume. Each finds its own namespace as self, writes the same
// key, reads back its own data, lists only its own namespace and cannot
// reach the other's; the host sees both; when the containers end, their
// namespaces go. It skips, saying why, only when podman itself cannot
// start a container here.
func TestToolboxPodman(t *testing.T) {
	needPodman(t)
	rootfs := busyboxRootfs(t)
	// Can the engine start a container at all?
	if out, err := podman(t, append(append([]string{"run", "--rm"}, podmanRunArgs...), "--rootfs", rootfs, "/bin/true")...); err != nil {
		t.Skipf("podman cannot start a container on this machine: %v %s", err, out)
	}
	mnt := mountShmfs(t, "--isolate")
	names := map[string]string{}
	for _, c := range []string{"A", "B"} {
		name := fmt.Sprintf("shmfs-test-%s-%d", c, os.Getpid())
		names[c] = name
		t.Cleanup(func() { podman(t, "rm", "-f", "-t", "0", name) })
		args := append(append([]string{"run", "-d", "--name", name, "--ipc=private"}, podmanRunArgs...),
			"-v", mnt+":/mnt/shmfs", "--rootfs", rootfs, "/bin/sleep", "600")
		if out, err := podman(t, args...); err != nil {
			t.Fatalf("podman run %s: %v %s", c, err, out)
		}
	}
	in := func(c, script string) (string, error) {
		return podman(t, "exec", names[c], "/bin/sh", "-c", script)
	}
	// busybox cat copies with sendfile(2), which reads nothing from a
	// shmfs table (size 0, direct I/O: the kernel's splice stops at
	// i_size); head reads.
	ns := map[string]string{}
	for _, c := range []string{"A", "B"} {
		self, err := in(c, "readlink /mnt/shmfs/self")
		if err != nil {
			t.Fatal(err)
		}
		ns[c] = strings.TrimSpace(self)
		if !strings.HasPrefix(ns[c], "ipc-") {
			t.Fatalf("container %s: self -> %q", c, ns[c])
		}
		out, err := in(c, "printf '"+c+" was here' > /mnt/shmfs/self/shm/0x00001234 && cat /mnt/shmfs/self/shm/0x00001234; echo; ls /mnt/shmfs | tr '\\n' ' '; echo; head -c 65536 /mnt/shmfs/self/sysvipc/shm")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(out, "\n")
		if len(lines) < 4 || lines[0] != c+" was here" || lines[1] != ns[c]+" self " {
			t.Errorf("container %s:\n%s", c, out)
		}
		if rows := strings.Count(out, "\n      4660 "); rows != 1 {
			t.Errorf("container %s: sysvipc/shm lists %d segments of key 0x1234:\n%s", c, rows, out)
		}
	}
	if ns["A"] == ns["B"] {
		t.Fatalf("both containers are in %s", ns["A"])
	}
	for _, p := range []string{"/mnt/shmfs/" + ns["A"] + "/shm/0x00001234", "/mnt/shmfs/" + ns["A"], "/mnt/shmfs/default"} {
		if out, err := in("B", "cat "+p+" || ls "+p); err == nil {
			t.Errorf("container B reached %s: %q", p, out)
		}
	}
	host := shOK(t, "ls "+mnt)
	for _, want := range []string{"default", ns["A"], ns["B"], "self"} {
		if !strings.Contains(host, want+"\n") {
			t.Errorf("host ls %s: %q lacks %s", mnt, host, want)
		}
	}
	for _, c := range []string{"A", "B"} {
		if got := shOK(t, "cat "+mnt+"/"+ns[c]+"/shm/0x00001234"); got != c+" was here" {
			t.Errorf("host reads %s's segment: %q", c, got)
		}
	}
	out, errs, code := runShmfs(t, "ipcs", "-m", mnt+"/"+ns["A"])
	if code != 0 || !strings.Contains(out, "0x00001234") {
		t.Errorf("shmfs ipcs -m on A's namespace: exit %d %q\n%s", code, errs, out)
	}
	for _, c := range []string{"A", "B"} {
		if out, err := podman(t, "rm", "-f", "-t", "0", names[c]); err != nil {
			t.Errorf("podman rm %s: %v %s", c, err, out)
		}
	}
	// A listing ends the namespaces whose last process is gone.
	if host := shOK(t, "ls "+mnt); strings.Contains(host, ns["A"]) || strings.Contains(host, ns["B"]) {
		t.Errorf("after the containers ended, the host still lists: %q", host)
	}
}

// TestToolboxPodmanBound runs the other recipe of docs/containers.md:
// a named namespace with a quota, given to one podman container as its
// only view of shmfs, bound to the container's IPC namespace by pid
// (podman inspect); the quota holds inside, and when the container ends
// the namespace is emptied and unbound, ready for the next one.
func TestToolboxPodmanBound(t *testing.T) {
	needPodman(t)
	rootfs := busyboxRootfs(t)
	if out, err := podman(t, append(append([]string{"run", "--rm"}, podmanRunArgs...), "--rootfs", rootfs, "/bin/true")...); err != nil {
		t.Skipf("podman cannot start a container on this machine: %v %s", err, out)
	}
	mnt := mountShmfs(t)
	shOK(t, "mkdir "+mnt+"/web && echo 1 > "+mnt+"/web/limits/shmmni")
	name := fmt.Sprintf("shmfs-test-web-%d", os.Getpid())
	t.Cleanup(func() { podman(t, "rm", "-f", "-t", "0", name) })
	args := append(append([]string{"run", "-d", "--name", name, "--ipc=private"}, podmanRunArgs...),
		"-v", mnt+"/web:/dev/shmfs", "--rootfs", rootfs, "/bin/sleep", "600")
	if out, err := podman(t, args...); err != nil {
		t.Fatalf("podman run: %v %s", err, out)
	}
	pid, err := podman(t, "inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		t.Fatal(err)
	}
	shOK(t, "echo bind pid="+strings.TrimSpace(pid)+" > "+mnt+"/web/ctl")
	kns, _ := podman(t, "exec", name, "readlink", "/proc/self/ns/ipc")
	if got := shOK(t, "cat "+mnt+"/web/ctl"); got != "bound "+kns {
		t.Errorf("web/ctl: %q, want bound %s", got, kns)
	}
	out, err := podman(t, "exec", name, "/bin/sh", "-c",
		"echo hi > /dev/shmfs/shm/0x00000001; (echo x > /dev/shmfs/shm/0x00000002) 2>&1; ls /dev/shmfs/shm | tr '\\n' ' '")
	if err != nil || out != "/bin/sh: can't create /dev/shmfs/shm/0x00000002: No space left on device\n0x00000001 ctl " {
		t.Errorf("inside, with shmmni 1: %q, %v", out, err)
	}
	if out, err := podman(t, "rm", "-f", "-t", "0", name); err != nil {
		t.Fatalf("podman rm: %v %s", err, out)
	}
	shOK(t, "ls "+mnt) // a listing ends namespaces whose processes are gone
	if got := shOK(t, "cat "+mnt+"/web/ctl; ls "+mnt+"/web/shm"); got != "unbound\nctl\n" {
		t.Errorf("after the container: %q, want web unbound and empty", got)
	}
}
