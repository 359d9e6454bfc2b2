package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runShmfs runs the shmfs command to its end and returns its stdout,
// stderr and exit code.
func runShmfs(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runAs(t, -1, nil, shmfsBin, args...)
}

// runAs runs a program as root (uid < 0) or as uid 65534 with no groups,
// with env added, to its end.
func runAs(t testing.TB, uid int, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if uid >= 0 {
		args = append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups", name}, args...)
		name = "setpriv"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), code
}

// newMountpoint makes an empty directory that is cleaned up, with whatever
// is mounted on it, when the test ends.
func newMountpoint(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shmfs-cli-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() {
		detachAll(dir)
		os.Remove(dir)
	})
	return dir
}

// isMounted reports whether /proc/self/mounts lists a mount on dir.
func isMounted(dir string) bool {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == dir {
			return true
		}
	}
	return false
}

// mountFstype is the type /proc/self/mounts gives the mount on dir.
func mountFstype(dir string) string {
	data, _ := os.ReadFile("/proc/self/mounts")
	fstype := ""
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == dir {
			fstype = f[2]
		}
	}
	return fstype
}

// procGone reports whether pid has exited (gone, or a zombie not yet
// reaped by whoever inherited it).
func procGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z") || strings.HasPrefix(s[i+1:], " X")
}

var readyLine = regexp.MustCompile(`^shmfs: mounted on (\S+), segment I/O (passthrough|cached) .*\(pid (\d+)\)\n$`)

// mountBackground runs shmfs mount --background and returns the server's
// pid; the server is killed and the mount removed when the test ends.
func mountBackground(t testing.TB, dir string, extra ...string) int {
	t.Helper()
	out, errs, code := runShmfs(t, append(append([]string{"mount", "--background"}, extra...), dir)...)
	if code != 0 {
		t.Fatalf("mount --background: exit %d: %s", code, errs)
	}
	m := readyLine.FindStringSubmatch(out)
	if m == nil || m[1] != dir {
		t.Fatalf("mount --background: ready line %q", out)
	}
	pid, _ := strconv.Atoi(m[3])
	t.Cleanup(func() {
		if !procGone(pid) {
			unix.Unmount(dir, unix.MNT_DETACH)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid
}

// TestCLIForegroundSignals: shmfs mount serves in the foreground, prints
// one ready line naming the mount and its mode, and on SIGINT or SIGTERM
// unmounts and exits 0.
func TestCLIForegroundSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := newMountpoint(t)
			cmd := exec.Command(shmfsBin, "mount", dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			lines := make(chan string, 1)
			go func() {
				r := bufio.NewReader(stdout)
				l, _ := r.ReadString('\n')
				lines <- l
				rest, _ := r.ReadString(0)
				if rest != "" {
					lines <- rest
				}
				done <- cmd.Wait()
			}()
			defer cmd.Process.Kill()
			var line string
			select {
			case line = <-lines:
			case <-time.After(30 * time.Second):
				t.Fatal("no ready line in 30s")
			}
			want := "shmfs: mounted on " + dir + ", segment I/O passthrough"
			if !strings.HasPrefix(line, want) {
				t.Fatalf("ready line %q, want it to start %q", line, want)
			}
			if !isMounted(dir) || mountFstype(dir) != "fuse.shmfs" {
				t.Fatalf("not mounted after the ready line: %q", mountFstype(dir))
			}
			if _, err := os.Stat(filepath.Join(dir, "default/shm/ctl")); err != nil {
				t.Fatal(err)
			}
			cmd.Process.Signal(sig)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("after %v: %v; stderr %q", sig, err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after %v", sig)
			}
			if isMounted(dir) {
				t.Errorf("still mounted after %v", sig)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: %q", stderr.String())
			}
		})
	}
}

// TestCLIBackground: --background returns once the mount is ready, with
// the server detached in a session of its own; shmfs umount stops it.
func TestCLIBackground(t *testing.T) {
	dir := newMountpoint(t)
	pid := mountBackground(t, dir)
	if !isMounted(dir) {
		t.Fatal("not mounted when mount --background returned")
	}
	if procGone(pid) {
		t.Fatal("server is not running")
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("server session %d (%v), want its own (%d)", sid, err, pid)
	}
	if out := shOK(t, "ls "+dir+"/default"); !strings.Contains(out, "shm") {
		t.Errorf("ls default: %q", out)
	}
	if _, errs, code := runShmfs(t, "umount", dir); code != 0 {
		t.Fatalf("umount: exit %d: %s", code, errs)
	}
	if isMounted(dir) {
		t.Error("still mounted after umount")
	}
	waitFor(t, "the background server to exit", func() bool { return procGone(pid) })
}

// TestCLIStaleMount: a mount point left with a dead shmfs mount (server
// killed) is cleaned up and reused by the next mount.
func TestCLIStaleMount(t *testing.T) {
	dir := newMountpoint(t)
	pid := mountBackground(t, dir)
	shOK(t, "echo gone > "+dir+"/default/shm/0x00000001")
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "the killed server's mount to go dead", func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, syscall.ENOTCONN)
	})
	for _, bg := range []bool{false, true} {
		if bg {
			mountBackground(t, dir)
		} else {
			mountForeground(t, dir)
		}
		if out := shOK(t, "ls "+dir+"/default/shm"); out != "ctl\ninfo\n" {
			t.Errorf("the new mount is not fresh: ls shm: %q", out)
		}
		data, _ := os.ReadFile("/proc/self/mounts")
		if n := strings.Count(string(data), " "+dir+" "); n != 1 {
			t.Errorf("%d mounts on %s, want 1", n, dir)
		}
		if _, errs, code := runShmfs(t, "umount", dir); code != 0 {
			t.Fatalf("umount: %s", errs)
		}
		if bg {
			break
		}
		// Leave a dead mount again for the background case.
		pid := mountBackground(t, dir)
		syscall.Kill(pid, syscall.SIGKILL)
		waitFor(t, "the killed server's mount to go dead", func() bool {
			_, err := os.Stat(dir)
			return errors.Is(err, syscall.ENOTCONN)
		})
	}
}

// mountForeground starts a foreground server on dir and waits for its
// ready line; it is stopped when the test ends.
func mountForeground(t testing.TB, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(shmfsBin, "mount", dir)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
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
		cmd.Process.Signal(syscall.SIGTERM)
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
			t.Fatalf("ready line %q; stderr %q", l, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line in 30s")
	}
	return cmd
}

// TestCLIUmountBusy: shmfs umount refuses while a segment is open or
// mapped, naming the pids; --lazy detaches, the holders keep working, and
// the server exits when they are gone.
func TestCLIUmountBusy(t *testing.T) {
	mnt := mountShmfs(t)
	server := serverPid(t, mnt)
	seg := mnt + "/default/shm/0x0000b057"
	shOK(t, "truncate -s 4096 "+seg)
	opener := startDriver(t, "c", -1, -1)
	fd := opener.ok("open %s rw", seg)
	mapper := startDriver(t, "python", -1, -1)
	slot := mapper.ok("map %s 4096", seg)
	mapper.ok("poke %s 0 still-here", slot)

	_, errs, code := runShmfs(t, "umount", mnt)
	if code == 0 {
		t.Fatal("umount succeeded with a segment open and one mapped")
	}
	if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "shmfs: ") {
		t.Errorf("stderr is not one line: %q", errs)
	}
	for _, pid := range []string{opener.pid, mapper.pid} {
		if !regexp.MustCompile(`\b` + pid + `\b`).MatchString(errs) {
			t.Errorf("stderr %q does not name pid %s", errs, pid)
		}
	}
	if !isMounted(mnt) {
		t.Fatal("a refused umount unmounted")
	}

	if _, errs, code := runShmfs(t, "umount", "--lazy", mnt); code != 0 {
		t.Fatalf("umount --lazy: exit %d: %s", code, errs)
	}
	if isMounted(mnt) {
		t.Fatal("still mounted after umount --lazy")
	}
	if got := opener.ok("pread %s 0 10", fd); got != "still-here" {
		t.Errorf("open handle after lazy umount reads %q", got)
	}
	if got := mapper.ok("peek %s 0 10", slot); got != "still-here" {
		t.Errorf("mapping after lazy umount reads %q", got)
	}
	if procGone(server) {
		t.Fatal("server exited while its segments were in use")
	}
	opener.stop()
	mapper.stop()
	waitFor(t, "the server to exit once its last user is gone", func() bool { return procGone(server) })
}

// TestCLIErrors: every error is one line on stderr, naming what failed,
// with a non-zero exit and nothing on stdout.
func TestCLIErrors(t *testing.T) {
	dir := newMountpoint(t)
	mounted := newMountpoint(t)
	mountBackground(t, mounted)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	missing := filepath.Join(t.TempDir(), "missing")

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"mount"}, "need exactly one MOUNTPOINT"},
		{[]string{"mount", dir, dir}, "need exactly one MOUNTPOINT"},
		{[]string{"mount", "--bogus", dir}, "flag provided but not defined: -bogus"},
		{[]string{"mount", "--background=maybe", dir}, "invalid boolean value"},
		{[]string{"mount", missing}, "mount " + missing + ": no such file or directory"},
		{[]string{"mount", "--background", missing}, "mount " + missing + ": no such file or directory"},
		{[]string{"mount", file}, "mount " + file + ": not a directory"},
		{[]string{"mount", mounted}, "mount " + mounted + ": shmfs is already mounted there"},
		{[]string{"mount", "--background", mounted}, "mount " + mounted + ": shmfs is already mounted there"},
		{[]string{"umount"}, "need exactly one MOUNTPOINT"},
		{[]string{"umount", "--bogus", mounted}, "flag provided but not defined: -bogus"},
		{[]string{"umount", dir}, "umount " + dir + ": no shmfs is mounted there"},
	} {
		out, errs, code := runShmfs(t, c.args...)
		if code == 0 {
			t.Errorf("shmfs %q: exit 0", c.args)
		}
		if out != "" {
			t.Errorf("shmfs %q: stdout %q", c.args, out)
		}
		if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "shmfs: ") || !strings.Contains(errs, c.want) {
			t.Errorf("shmfs %q: stderr %q, want one line with %q", c.args, errs, c.want)
		}
	}
	if isMounted(dir) {
		t.Error("a failed mount left a mount behind")
	}
	if _, err := os.Stat(mounted + "/default"); err != nil {
		t.Errorf("a refused second mount broke the first: %v", err)
	}
}

// TestCLINoFusermount: an ordinary user without fusermount3 is told so in
// one line.
func TestCLINoFusermount(t *testing.T) {
	for _, p := range []string{"/usr/bin/fusermount3", "/bin/fusermount3", "/usr/bin/fusermount", "/bin/fusermount"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s is installed: the message for its absence cannot be seen", p)
		}
	}
	dir := newMountpoint(t)
	os.Chown(dir, 65534, 65534)
	_, errs, code := runAs(t, 65534, []string{"PATH=/usr/bin:/bin"}, shmfsBin, "mount", dir)
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "fusermount3 is not installed") {
		t.Errorf("mount as nobody: exit %d, stderr %q", code, errs)
	}
	_, errs, code = runAs(t, 65534, []string{"PATH=/usr/bin:/bin"}, shmfsBin, "mount", "--background", dir)
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "fusermount3 is not installed") {
		t.Errorf("mount --background as nobody: exit %d, stderr %q", code, errs)
	}
	if isMounted(dir) {
		t.Error("mounted anyway")
	}
}

// TestCLIHelp: --help of the command and of each subcommand describes
// every flag, on stdout, with exit 0.
func TestCLIHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"shmfs mount", "shmfs umount", "--lazy"}},
		{[]string{"help"}, []string{"shmfs mount", "shmfs umount"}},
		{[]string{"mount", "--help"}, []string{"MOUNTPOINT", "-background", "-allow-other", "-no-passthrough", "-debug", "SIGINT"}},
		{[]string{"umount", "--help"}, []string{"MOUNTPOINT", "-lazy", "pids"}},
		{[]string{"umount", "-h"}, []string{"-lazy"}},
	} {
		out, errs, code := runShmfs(t, c.args...)
		if code != 0 || errs != "" {
			t.Errorf("shmfs %q: exit %d, stderr %q", c.args, code, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("shmfs %q: help lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

// TestCLIModeLine: the ready line says whether segment I/O is passed
// through, and --no-passthrough turns it off.
func TestCLIModeLine(t *testing.T) {
	dir := newMountpoint(t)
	out, errs, code := runShmfs(t, "mount", "--background", dir, "--no-passthrough")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := readyLine.FindStringSubmatch(out)
	if m == nil || m[2] != "cached" {
		t.Fatalf("ready line %q, want segment I/O cached", out)
	}
	pid, _ := strconv.Atoi(m[3])
	defer func() {
		if !procGone(pid) {
			unix.Unmount(dir, unix.MNT_DETACH)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	if _, errs, code := runShmfs(t, "umount", dir); code != 0 {
		t.Fatal(errs)
	}
}

// TestCLISignalWhileBusy: SIGTERM while a segment is mapped detaches the
// mount at once; the mapping keeps working, and the server exits 0 when
// its last user is gone.
func TestCLISignalWhileBusy(t *testing.T) {
	dir := newMountpoint(t)
	cmd := exec.Command(shmfsBin, "mount", dir)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- l
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line in 30s")
	}
	seg := dir + "/default/shm/0x00000bb5"
	shOK(t, "truncate -s 4096 "+seg)
	d := startDriver(t, "python", -1, -1)
	m := d.ok("map %s 4096", seg)
	d.ok("poke %s 0 busy", m)
	cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the mount to be detached", func() bool { return !isMounted(dir) })
	if got := d.ok("peek %s 0 4", m); got != "busy" {
		t.Errorf("mapping after SIGTERM reads %q", got)
	}
	select {
	case err := <-done:
		t.Fatalf("server exited while a mapping was alive: %v", err)
	default:
	}
	d.stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30s after its last user left")
	}
}
