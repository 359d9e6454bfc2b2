package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestShmCallerOutsidePidNamespace: a server in a pid namespace of its
// own sees every outside caller as pid 0, as it sees the kernel's own
// requests. That must not make root of them: an unprivileged outside
// caller is still refused what is not its own.
func TestShmCallerOutsidePidNamespace(t *testing.T) {
	dir := newMountpoint(t)
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child=SIGTERM", shmfsBin, "mount", dir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- l
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// unshare --fork ignores SIGTERM itself: stop the server, its
		// child.
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		for _, c := range strings.Fields(string(children)) {
			if pid, err := strconv.Atoi(c); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			unix.Unmount(dir, unix.MNT_DETACH)
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case l := <-ready:
		if !strings.HasPrefix(l, "shmfs: mounted on "+dir) {
			t.Fatalf("ready line %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line in 30s")
	}
	seg := dir + "/default/shm/0x00000099"
	shOK(t, "umask 077; echo secret > "+seg)
	nobody := startDriver(t, "c", 65534, 65534)
	nobody.fails("EACCES", "open %s r", seg)
	nobody.fails("EPERM", "unlink %s", seg)
	nobody.fails("EPERM", "chmod %s 0666", seg)
	nobody.fails("EPERM", "mkdir %s/mine", dir)
	nobody.fails("EACCES", "write %s/default/limits/shmmni 1", dir)
	// Its own segment it may still make and remove.
	nobody.ok("close %s", nobody.ok("open %s/default/shm/0x00000098 rwc 0600", dir))
	nobody.ok("unlink %s/default/shm/0x00000098", dir)
	// And root outside is still root.
	root := startDriver(t, "c", -1, -1)
	root.ok("close %s", root.ok("open %s rw", seg))
	root.ok("unlink %s", seg)
}
