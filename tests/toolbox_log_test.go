package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// logLine is one event as slog's text handler writes it: a timestamp,
// the level, the message.
var logLine = regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\S* level=(INFO|WARN|ERROR|DEBUG) msg=`)

// TestToolboxLogFile: --log FILE in the foreground gets one timestamped
// line per event (mounted, the signal, unmounted) and, with --debug,
// go-fuse's request log; the terminal gets only the ready line.
func TestToolboxLogFile(t *testing.T) {
	dir := newMountpoint(t)
	logf := filepath.Join(t.TempDir(), "shmfs.log")
	srv := startForeground(t, dir, "--log", logf, "--debug")
	shOK(t, "ls "+dir+"/default/shm")
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.exited(t, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if srv.stderr.Len() != 0 {
		t.Errorf("stderr with --log: %q", srv.stderr.String())
	}
	data, _ := os.ReadFile(logf)
	var events []string
	debug := 0
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if logLine.MatchString(l) {
			events = append(events, l)
		} else if strings.Contains(l, "LOOKUP") || strings.Contains(l, "OPENDIR") {
			debug++
		}
	}
	want := []string{`level=INFO msg=mounted dir=` + dir, `level=INFO msg="signal: unmounting" signal=terminated`, `level=INFO msg=unmounted dir=` + dir}
	if len(events) != len(want) {
		t.Fatalf("log events:\n%s\nwant %d: %q\nwhole log:\n%s", strings.Join(events, "\n"), len(want), want, data)
	}
	for i, w := range want {
		if !strings.Contains(events[i], w) {
			t.Errorf("event %d %q, want %q", i, events[i], w)
		}
	}
	if debug == 0 {
		t.Errorf("--debug --log: no FUSE request in the log:\n%s", data)
	}
}

// TestToolboxLogBackground: --background without --log logs to
// /var/log/shmfs/<mount point, escaped as systemd does>.log and says so
// in the ready line; --log FILE moves it.
func TestToolboxLogBackground(t *testing.T) {
	t.Setenv("SHMFS_LOG_DIR", "") // the suite's; here the default is the point
	dir := newMountpoint(t)
	want := "/var/log/shmfs/" + strings.ReplaceAll(strings.Trim(dir, "/"), "/", "-") + ".log"
	os.Remove(want)
	t.Cleanup(func() { os.Remove(want) })
	out, errs, code := runShmfs(t, "mount", "--background", dir)
	if code != 0 {
		t.Fatalf("mount --background: %s", errs)
	}
	t.Cleanup(func() { runShmfs(t, "umount", "--lazy", dir) })
	if !readyLine.MatchString(out) || !strings.Contains(out, ", log in "+want+" (pid ") {
		t.Errorf("ready line %q does not name the log %s", out, want)
	}
	if _, errs, code := runShmfs(t, "umount", dir); code != 0 {
		t.Fatal(errs)
	}
	waitFor(t, "the server to log its unmount", func() bool {
		b, _ := os.ReadFile(want)
		return strings.Contains(string(b), "msg=unmounted")
	})
	b, _ := os.ReadFile(want)
	if !strings.Contains(string(b), "msg=mounted dir="+dir) {
		t.Errorf("log %s:\n%s", want, b)
	}

	logf := filepath.Join(t.TempDir(), "bg.log")
	out, errs, code = runShmfs(t, "mount", "--background", "--log", logf, dir)
	if code != 0 {
		t.Fatalf("mount --background --log: %s", errs)
	}
	if !strings.Contains(out, ", log in "+logf+" (pid ") {
		t.Errorf("ready line %q does not name %s", out, logf)
	}
	runShmfs(t, "umount", dir)
}

// TestToolboxNonEmptyWarns: mounting over a directory that holds files
// hides them, and shmfs says so (on stderr, and in the log), but
// mounts.
func TestToolboxNonEmptyWarns(t *testing.T) {
	dir := newMountpoint(t)
	os.WriteFile(dir+"/hidden", []byte("x"), 0o644)
	t.Cleanup(func() { os.Remove(dir + "/hidden") })
	logf := filepath.Join(t.TempDir(), "shmfs.log")
	out, errs, code := runShmfs(t, "mount", "--background", "--log", logf, dir)
	if code != 0 || !readyLine.MatchString(out) {
		t.Fatalf("mount: exit %d, %q, %q", code, out, errs)
	}
	t.Cleanup(func() { runShmfs(t, "umount", "--lazy", dir) })
	want := "shmfs: warning: " + dir + " is not empty: its 1 entries are hidden while shmfs is mounted there\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	b, _ := os.ReadFile(logf)
	if !strings.Contains(string(b), "level=WARN msg=\""+dir+" is not empty") {
		t.Errorf("log:\n%s", b)
	}
	runShmfs(t, "umount", dir)

	srv := startForeground(t, dir)
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.exited(t, "SIGTERM")
	if srv.stderr.String() != want {
		t.Errorf("foreground stderr %q, want %q", srv.stderr.String(), want)
	}
}
