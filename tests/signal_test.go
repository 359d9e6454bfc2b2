package tests

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// foregroundServer is a `shmfs mount` in the foreground that the test
// signals itself; done delivers its exit once.
type foregroundServer struct {
	cmd    *exec.Cmd
	done   chan error
	stderr *bytes.Buffer
}

func startForeground(t *testing.T, dir string, extra ...string) *foregroundServer {
	t.Helper()
	cmd := exec.Command(shmfsBin, append(append([]string{"mount"}, extra...), dir)...)
	s := &foregroundServer{cmd: cmd, done: make(chan error, 1), stderr: new(bytes.Buffer)}
	cmd.Stderr = s.stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- l
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		unix.Unmount(dir, unix.MNT_DETACH)
	})
	select {
	case l := <-ready:
		if !strings.HasPrefix(l, "shmfs: mounted on "+dir) {
			t.Fatalf("ready line %q; stderr %q", l, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no ready line in 30s")
	}
	return s
}

// exited waits (at most 30 s, a bound for a hung test, not a measure)
// for the server to exit, and returns its error.
func (s *foregroundServer) exited(t *testing.T, what string) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("server still running 30 s after %s; stderr %q", what, s.stderr.String())
		return nil
	}
}

// blockedIn starts a shell command that blocks in a request to the
// server, and waits until it sleeps in FUSE (its wchan says so).
func blockedIn(t *testing.T, script string) (*exec.Cmd, chan error, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "the caller to block in a FUSE request: "+script, func() bool {
		select {
		case err := <-done:
			t.Fatalf("%s: ended before it blocked: %v: %s", script, err, errb.String())
		default:
		}
		// The script execs its last command or runs it as a builtin:
		// the process that blocks is sh's.
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/wchan")
		return strings.Contains(string(b), "request_wait_answer") || strings.Contains(string(b), "fuse")
	})
	return cmd, done, &errb
}

// TestSignalBlockedCallers (issue 9, item 6): SIGTERM or SIGINT ends the
// server even while callers are blocked in it: a reader blocked on an
// empty queue and a semop blocked on a set get EIDRM (as if their object
// were removed), the mount goes, and the server exits 0. Before, the
// mount was detached and the reader stayed blocked, the server with it,
// for ever.
func TestSignalBlockedCallers(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := newMountpoint(t)
			srv := startForeground(t, dir)
			ns := dir + "/default"
			shOK(t, "echo 'IPC_CREAT key=0x42' > "+ns+"/msg/ctl && echo 'IPC_CREAT key=0x43 nsems=1' > "+ns+"/sem/ctl")
			_, readerDone, readerErr := blockedIn(t, "exec dd if="+ns+"/msg/0x00000042,mtext bs=64k count=1 status=none")
			_, semDone, semErr := blockedIn(t, "exec 3<>"+ns+"/sem/0x00000043; exec /bin/echo '0 -1' >&3")

			srv.cmd.Process.Signal(sig)
			if err := srv.exited(t, sig.String()); err != nil {
				t.Errorf("server exit after %v: %v; stderr %q", sig, err, srv.stderr.String())
			}
			if isMounted(dir) {
				t.Errorf("still mounted after %v", sig)
			}
			for _, c := range []struct {
				name string
				done chan error
				errb *bytes.Buffer
			}{{"dd from the queue", readerDone, readerErr}, {"semop", semDone, semErr}} {
				select {
				case err := <-c.done:
					if err == nil {
						t.Errorf("%s succeeded after %v", c.name, sig)
					} else if !strings.Contains(c.errb.String(), "Identifier removed") {
						t.Errorf("%s: %v, stderr %q; want EIDRM (Identifier removed)", c.name, err, c.errb.String())
					}
				case <-time.After(30 * time.Second):
					t.Errorf("%s still blocked 30 s after the server got %v", c.name, sig)
				}
			}
		})
	}
}

// TestSignalSecond: a server that cannot unmount at the first signal (a
// segment is held open) detaches, and a second signal ends it at once;
// the log says so, and the holder's next request fails instead of
// hanging.
func TestSignalSecond(t *testing.T) {
	dir := newMountpoint(t)
	logf := t.TempDir() + "/shmfs.log"
	srv := startForeground(t, dir, "--log", logf)
	shOK(t, "truncate -s 4096 "+dir+"/default/shm/0x00000007")
	holder := exec.Command("sleep", "600")
	f, err := os.Open(dir + "/default/shm/0x00000007")
	if err != nil {
		t.Fatal(err)
	}
	holder.ExtraFiles = []*os.File{f}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })

	srv.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the server to log the busy mount", func() bool {
		b, _ := os.ReadFile(logf)
		return strings.Contains(string(b), "busy: detached")
	})
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.exited(t, "the second SIGTERM"); err != nil {
		t.Errorf("server exit: %v", err)
	}
	if isMounted(dir) {
		t.Error("still mounted")
	}
	log, _ := os.ReadFile(logf)
	for _, want := range []string{`msg="signal: unmounting" signal=terminated`, "msg=\"busy: detached", "msg=\"second signal: ending the server now\""} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
