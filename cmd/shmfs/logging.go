package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// serverLog is where a server's operator events go: one line each, with
// a timestamp (mount, unmount, signals, warnings, refused commands).
type serverLog struct {
	*slog.Logger
	// path is the log file, or "" when the log is stderr.
	path string
	file *os.File
}

// Where a server logs:
//
//   - --log FILE: to FILE, appended, every event (and --debug's FUSE
//     requests).
//   - --background without --log: to defaultLogPath, said in the ready
//     line.
//   - in the foreground without --log: to stderr, warnings only, so a
//     terminal stays quiet; every event when stderr is the journal
//     (systemd sets JOURNAL_STREAM), which adds its own timestamps. A
//     line there reads "shmfs: warning: ...", as shmfs's other messages.
func openServerLog(path string, background bool, dir string, debug bool) (*serverLog, error) {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	if path == "" && !background {
		min := slog.LevelWarn
		if os.Getenv("JOURNAL_STREAM") != "" {
			min = level
		}
		return &serverLog{Logger: slog.New(newLineHandler(os.Stderr, min))}, nil
	}
	if path == "" {
		path = defaultLogPath(dir)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("log directory: %v", err)
		}
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log: %v", err)
	}
	// go-fuse writes --debug's requests with the standard logger.
	log.SetOutput(f)
	return &serverLog{Logger: slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level})), path: path, file: f}, nil
}

// takeStderr makes the log file the server's stderr too, so that what
// the runtime writes there (a panic, a race report) is kept with the
// events: a background server's stderr is otherwise /dev/null.
func (l *serverLog) takeStderr() {
	if l.file != nil {
		unix.Dup2(int(l.file.Fd()), 2)
	}
}

// enabled reports whether events at level are written anywhere.
func (l *serverLog) enabled(level slog.Level) bool {
	return l.Logger.Enabled(context.Background(), level)
}

// defaultLogPath is where a background server without --log writes:
// /var/log/shmfs/<mount point>.log for root, and
// $XDG_RUNTIME_DIR/shmfs/<mount point>.log (else /tmp/shmfs-<uid>/) for
// anyone else: /mnt/shmfs logs to mnt-shmfs.log. $SHMFS_LOG_DIR, when
// set, is the directory instead (the test suite keeps its logs in its
// own temporary directory so).
func defaultLogPath(dir string) string {
	base := escapePath(dir) + ".log"
	if d := os.Getenv("SHMFS_LOG_DIR"); d != "" {
		return filepath.Join(d, base)
	}
	if os.Geteuid() == 0 {
		return filepath.Join("/var/log/shmfs", base)
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "shmfs", base)
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("shmfs-%d", os.Geteuid()), base)
}

// escapePath names a log after its mount point: the path without its
// outer slashes, "/" as "-", and any byte outside [A-Za-z0-9._-] (and a
// leading ".") as "_"; "/" alone is "-". (systemd-escape --path also
// escapes "-" itself, which would make /tmp/my-mnt tmp-my\x2dmnt.log:
// exact, but not a name to type.)
func escapePath(p string) string {
	p = strings.Trim(filepath.Clean(p), "/")
	if p == "" {
		return "-"
	}
	b := []byte(p)
	for i, c := range b {
		switch {
		case c == '/':
			b[i] = '-'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.' && i > 0:
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
