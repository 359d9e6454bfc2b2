package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens as a service manager does for sd_notify(3):
// a unix datagram socket, at a path or (name starting with "@") at an
// abstract address.
func notifySocket(t *testing.T, name string) (*net.UnixConn, string) {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, name
}

// nextNotify reads one datagram (at most 30 s, a bound for a hung test)
// and returns its NAME=value lines.
func nextNotify(t *testing.T, c *net.UnixConn) map[string]string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// TestToolboxNotify: with $NOTIFY_SOCKET set (a path, or an abstract
// "@" address), a foreground server sends READY=1 with a STATUS once the
// mount is ready, and STOPPING=1 when a signal stops it; a background
// mount's parent sends READY=1 with MAINPID= the server, which sends
// STOPPING=1 itself when unmounted.
func TestToolboxNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify")
			if abstract {
				name = fmt.Sprintf("@shmfs-test-notify-%d", os.Getpid())
			}
			c, addr := notifySocket(t, name)
			t.Setenv("NOTIFY_SOCKET", addr)

			dir := newMountpoint(t)
			srv := startForeground(t, dir)
			m := nextNotify(t, c)
			if m["READY"] != "1" || m["STATUS"] != "mounted on "+dir {
				t.Errorf("first notification %q, want READY=1 and STATUS=mounted on %s", m, dir)
			}
			srv.cmd.Process.Signal(syscall.SIGTERM)
			m = nextNotify(t, c)
			if m["STOPPING"] != "1" {
				t.Errorf("after SIGTERM: %q, want STOPPING=1", m)
			}
			srv.exited(t, "SIGTERM")

			out, errs, code := runShmfs(t, "mount", "--background", dir)
			if code != 0 {
				t.Fatal(errs)
			}
			pid := readyLine.FindStringSubmatch(out)[3]
			t.Cleanup(func() {
				if p, _ := strconv.Atoi(pid); !procGone(p) {
					syscall.Kill(p, syscall.SIGKILL)
				}
			})
			m = nextNotify(t, c)
			if m["READY"] != "1" || m["MAINPID"] != pid {
				t.Errorf("background: %q, want READY=1 and MAINPID=%s", m, pid)
			}
			runShmfs(t, "umount", dir)
			if m = nextNotify(t, c); m["STOPPING"] != "1" {
				t.Errorf("after umount: %q, want STOPPING=1", m)
			}
		})
	}
}
