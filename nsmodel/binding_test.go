package nsmodel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// kernelIPC starts a process in a new kernel IPC namespace that lives
// until the test ends, and returns its pid.
func kernelIPC(t *testing.T) int32 {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make an IPC namespace")
	}
	cmd := exec.Command("unshare", "--ipc", "sh", "-c", "echo ready; exec cat")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Skipf("unshare --ipc: %q", line)
	}
	return int32(cmd.Process.Pid)
}

// admin is root in the server's (the test's) namespaces.
func admin() *nsmodel.Cred { return nsmodel.NewFixedCred(0, 0, int32(os.Getpid()), nil, ^uint64(0)) }

func TestBindingDefaultAndFirstUse(t *testing.T) {
	m, _ := newModel(t)
	own, err := nsmodel.KernelNSOf(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if m.ServerNS() != own || m.Bound(own) != m.Get(nsmodel.DefaultNamespace) {
		t.Fatalf("server namespace %v bound to %v, want %v bound to default", m.ServerNS(), m.Bound(own), own)
	}
	if ns, created, err := m.NamespaceOf(int32(os.Getpid()), true); err != nil || created || ns.Name != nsmodel.DefaultNamespace {
		t.Errorf("NamespaceOf(self): %v %v %v", ns, created, err)
	}
	if _, _, err := m.NamespaceOf(0, true); !errors.Is(err, unix.ESRCH) {
		t.Errorf("NamespaceOf(pid 0): %v, want ESRCH", err)
	}

	pid := kernelIPC(t)
	k, _ := nsmodel.KernelNSOf(pid)
	if _, _, err := m.NamespaceOf(pid, false); !errors.Is(err, unix.ENOENT) {
		t.Errorf("NamespaceOf without create before first use: %v, want ENOENT", err)
	}
	// An administrator took the name first use would give: the next
	// one is used, and the administrator's stays unbound.
	if _, err := m.Create(k.AutoName()); err != nil {
		t.Fatal(err)
	}
	ns, created, err := m.NamespaceOf(pid, true)
	if err != nil || !created || ns.Name != k.AutoName()+".2" {
		t.Fatalf("first use: %v %v %v, want %s.2 made", ns, created, err, k.AutoName())
	}
	if again, created, _ := m.NamespaceOf(pid, true); again != ns || created {
		t.Errorf("second use: %v %v", again, created)
	}
	if got, auto, ok := ns.Binding(); got != k || !auto || !ok {
		t.Errorf("binding %v %v %v", got, auto, ok)
	}
	if _, _, ok := m.Get(k.AutoName()).Binding(); ok {
		t.Error("the administrator's namespace of that name got bound")
	}
	if l := ns.Limits(); l != nsmodel.DefaultLimits() {
		t.Errorf("limits of a namespace made by first use: %+v", l)
	}
	wantErr(t, "rmdir of a bound namespace", m.Remove(ns.Name), unix.EBUSY)
}

func TestBindingBindUnbind(t *testing.T) {
	m, _ := newModel(t)
	pid := kernelIPC(t)
	a, _ := m.Create("a")
	b, _ := m.Create("b")
	tenantRoot := nsmodel.NewFixedCred(0, 0, pid, nil, ^uint64(0))
	noCaps := nsmodel.NewFixedCred(0, 0, int32(os.Getpid()), nil, 0)
	for who, c := range map[string]*nsmodel.Cred{"root of a container": tenantRoot, "root without capabilities": noCaps} {
		if m.IsAdmin(c) {
			t.Errorf("%s is an administrator", who)
		}
		wantErr(t, who+" binds", m.BindPid(c, a, pid), unix.EPERM)
		wantErr(t, who+" unbinds default", m.Unbind(c, m.Get(nsmodel.DefaultNamespace)), unix.EPERM)
	}
	if !m.IsAdmin(admin()) {
		t.Fatal("root of the server's namespaces is not an administrator")
	}
	wantErr(t, "bind by pid", m.BindPid(admin(), a, pid), nil)
	wantErr(t, "the same kernel namespace elsewhere", m.BindPath(admin(), b, fmt.Sprintf("/proc/%d/ns/ipc", pid)), unix.EBUSY)
	wantErr(t, "a bound namespace again", m.BindPid(admin(), a, int32(os.Getpid())), unix.EBUSY)
	wantErr(t, "the server's kernel namespace", m.BindPid(admin(), b, int32(os.Getpid())), unix.EBUSY)
	wantErr(t, "no such process", m.BindPid(admin(), b, 1<<30), unix.ESRCH)
	wantErr(t, "not a namespace", m.BindPath(admin(), b, "/etc/hostname"), unix.EINVAL)
	wantErr(t, "another kind of namespace", m.BindPath(admin(), b, "/proc/self/ns/uts"), unix.EINVAL)
	wantErr(t, "no such file", m.BindPath(admin(), b, "/nonexistent"), unix.ENOENT)
	wantErr(t, "unbind an unbound one", m.Unbind(admin(), b), unix.EINVAL)
	wantErr(t, "unbind default", m.Unbind(admin(), m.Get(nsmodel.DefaultNamespace)), unix.EBUSY)
	if ns, _, _ := m.NamespaceOf(pid, true); ns != a {
		t.Errorf("the bound process finds %v, want a", ns)
	}
	wantErr(t, "unbind", m.Unbind(admin(), a), nil)
	if _, _, ok := a.Binding(); ok {
		t.Error("a is still bound")
	}
	wantErr(t, "rmdir after unbind", m.Remove("a"), nil)
	wantErr(t, "bind a removed namespace", m.BindPid(admin(), a, pid), unix.ENOENT)
}

// TestBindingEnd: End removes every object as IPC_RMID does; a
// namespace made by first use goes, a bound one stays, empty.
func TestBindingEnd(t *testing.T) {
	m, _ := newModel(t)
	for _, auto := range []bool{true, false} {
		pid := kernelIPC(t)
		k, _ := nsmodel.KernelNSOf(pid)
		var ns *nsmodel.Namespace
		if auto {
			ns, _, _ = m.NamespaceOf(pid, true)
		} else {
			ns, _ = m.Create("named")
			wantErr(t, "bind", m.BindPid(admin(), ns, pid), nil)
		}
		c := admin()
		attached := create(t, ns.Shm, c, 1, 4096, 0o600)
		create(t, ns.Shm, c, 2, 4096, 0o600)
		wantErr(t, "attach", ns.Shm.Attach(c, attached, nsmodel.AccessRead), nil)
		q, err := ns.Msg.Open(c, nsmodel.MsgGet{Key: 3, Mode: 0o600, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		recv := make(chan error, 1)
		go func() {
			_, err := q.Receive(context.Background(), 1, nsmodel.MsgRecv{BufSize: 10})
			recv <- err
		}()
		if got, _, _ := m.End(m.ServerNS()); got != nil {
			t.Error("End of the server's own kernel namespace did something")
		}
		ended, removed, objs := m.End(k)
		if ended != ns || removed != auto || len(objs) != 3 {
			t.Errorf("End: %v %v %v", ended, removed, objs)
		}
		select {
		case err := <-recv:
			wantErr(t, "a blocked receive", err, unix.EIDRM)
		case <-time.After(10 * time.Second):
			t.Fatal("a blocked receive is still blocked after End")
		}
		// The attached segment waits for its detach, keyless and
		// marked SHM_DEST; the other is gone.
		if st := ns.Shm.Stats(); len(st) != 1 || st[0].Key != nsmodel.IPCPrivate || st[0].Mode&nsmodel.ShmDest == 0 {
			t.Errorf("segments after End: %+v", st)
		}
		ns.Shm.Detach(attached, 1)
		if !ns.Empty() {
			t.Error("objects left after the last detach")
		}
		if _, _, ok := ns.Binding(); ok {
			t.Error("still bound after End")
		}
		if got := m.Get(ns.Name) == ns; got == auto {
			t.Errorf("after End the namespace is there: %v; made by first use: %v", got, auto)
		}
		if auto {
			_, err := ns.Shm.Get(c, nsmodel.ShmGet{Key: 9, Size: 1, Mode: 0o600, Create: true})
			wantErr(t, "create in an ended namespace", err, unix.ENOENT)
		}
		if again, _, _ := m.End(k); again != nil {
			t.Error("a second End did something")
		}
	}
}

// TestBindingQuotas: a tenant's limits are an administrator's to set,
// and with SetQuotas every namespace's are.
func TestBindingQuotas(t *testing.T) {
	m, _ := newModel(t)
	pid := kernelIPC(t)
	ns, _, _ := m.NamespaceOf(pid, true)
	tenantRoot := nsmodel.NewFixedCred(0, 0, pid, nil, ^uint64(0))
	wantErr(t, "root of the tenant", ns.SetLimit(tenantRoot, "shmmni", "100000"), unix.EACCES)
	wantErr(t, "the administrator", ns.SetLimit(admin(), "shmmni", "10"), nil)
	if ns.Limits().ShmMni != 10 {
		t.Errorf("shmmni %d", ns.Limits().ShmMni)
	}
	def := m.Get(nsmodel.DefaultNamespace)
	noCaps := nsmodel.NewFixedCred(0, 0, int32(os.Getpid()), nil, 0)
	wantErr(t, "euid 0 on default", def.SetLimit(noCaps, "shmmni", "100"), nil)
	m.SetQuotas()
	wantErr(t, "euid 0 on default, with quotas", def.SetLimit(noCaps, "shmmni", "200"), unix.EACCES)
	wantErr(t, "the administrator, with quotas", def.SetLimit(admin(), "shmmni", "300"), nil)
}

// BenchmarkLiveKernelNS is the cost of one scan for ended namespaces on
// this machine: one stat of /proc/<pid>/ns/ipc per process.
func BenchmarkLiveKernelNS(b *testing.B) {
	want := map[nsmodel.KernelNS]bool{1: true} // no such namespace: every process is looked at
	for i := 0; i < b.N; i++ {
		if _, err := nsmodel.LiveKernelNS(want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKernelNSOf is what placing one caller costs: a stat of
// /proc/<pid>/ns/ipc.
func BenchmarkKernelNSOf(b *testing.B) {
	pid := int32(os.Getpid())
	for i := 0; i < b.N; i++ {
		if _, err := nsmodel.KernelNSOf(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIsAdmin is the check of an administrator: the stat, and
// /proc/<pid>/status for the capabilities.
func BenchmarkIsAdmin(b *testing.B) {
	m := nsmodel.NewModel(nil)
	pid := int32(os.Getpid())
	for i := 0; i < b.N; i++ {
		if !m.IsAdmin(nsmodel.NewCred(0, 0, pid)) {
			b.Fatal("not an administrator")
		}
	}
}
