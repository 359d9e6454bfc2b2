// Package keeper keeps the state of a shmfs mount alive across a crash
// of the process that serves it (docs/crash.md).
//
// shmfs mount runs as the keeper: a small process that starts the
// server (the same binary, shmfs serve), holds what must outlive it —
// the memfd of every segment and the state record, a memfd of framed
// nsmodel records — and starts a new server when one dies. The keeper
// does no FUSE work and looks at nothing per request: what kills a
// server (a panic in a handler, a memory blow-up, kill -9) does not
// reach it. If the keeper itself dies, the server goes with it
// (PR_SET_PDEATHSIG) and so does the state, as a reboot takes the
// kernel's IPC objects.
package keeper

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config is how a keeper runs its servers.
type Config struct {
	// Dir is the mount point.
	Dir string
	// Argv is the server's command line (the binary, "serve", flags,
	// the mount point).
	Argv []string
	// Ready is the --background parent's ready pipe, given to the first
	// server only; nil in the foreground.
	Ready *os.File
	// ReadyEnv is the environment entry that tells the first server
	// about Ready.
	ReadyEnv string
	Log      *slog.Logger
	// A server that dies is restarted at most MaxRestarts times within
	// Window; one more death is a crash loop, and the keeper gives up
	// (0: a death is the end).
	MaxRestarts int
	Window      time.Duration
}

// Crash loop defaults: five deaths within a minute end the mount.
const (
	DefaultMaxRestarts = 5
	DefaultWindow      = time.Minute
	firstBackoff       = 50 * time.Millisecond
	maxBackoff         = 2 * time.Second
)

// keeper is the state of a running keeper.
type keeper struct {
	cfg Config

	// mu protects the fields below, which the status socket reads.
	mu       sync.Mutex
	held     map[uint64]*os.File // memfds by inode number
	log      *os.File            // the state record
	mode     string
	server   int // pid of the running server, 0 between two
	started  time.Time
	served   time.Time // when the running server started
	restarts int
}

// Run starts the server and keeps it running until it exits on its own
// (an unmount, SIGTERM), a crash loop is detected, or a first server
// fails to mount. SIGINT and SIGTERM are passed to the server.
func Run(cfg Config) error {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	f, err := newLogFile()
	if err != nil {
		return err
	}
	k := &keeper{cfg: cfg, held: make(map[uint64]*os.File), log: os.NewFile(uintptr(f.fd), "shmfs-state"), started: time.Now()}
	stopStatus, err := k.serveStatus()
	if err != nil {
		cfg.Log.Warn("keeper: no status socket: " + err.Error())
	} else {
		defer stopStatus()
	}

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var stopping bool
	go func() {
		for s := range sig {
			k.mu.Lock()
			stopping = true
			pid := k.server
			k.mu.Unlock()
			if pid > 0 {
				syscall.Kill(pid, s.(syscall.Signal))
			}
		}
	}()

	var deaths []time.Time
	backoff := firstBackoff
	for gen := 0; ; gen++ {
		status, err := k.serve(gen)
		if err != nil {
			return err
		}
		k.mu.Lock()
		stop := stopping
		k.mu.Unlock()
		if status.Exited() && status.ExitStatus() == 0 || stop {
			// Unmounted, or told to stop: the end of the mount, and of
			// the dead mounts of the servers before, stacked beneath.
			k.cleanDead()
			return nil
		}
		if gen == 0 && status.Exited() {
			// The first server could not mount; it said why.
			return exitCode(status.ExitStatus())
		}
		why := describe(status)
		now := time.Now()
		deaths = append(deaths, now)
		for len(deaths) > 0 && now.Sub(deaths[0]) > cfg.Window {
			deaths = deaths[1:]
		}
		if len(deaths) > cfg.MaxRestarts {
			cfg.Log.Error(fmt.Sprintf("keeper: the server died %d times within %s (last: %s); giving up, the mount and its state are gone", len(deaths), cfg.Window, why), "dir", cfg.Dir)
			k.cleanDead()
			return exitCode(1)
		}
		if len(deaths) == 1 {
			backoff = firstBackoff
		}
		cfg.Log.Warn("keeper: the server died ("+why+"); starting a new one", "dir", cfg.Dir, "restart", gen+1, "after", backoff.String())
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
		k.mu.Lock()
		k.restarts++
		k.mu.Unlock()
	}
}

// cleanDead detaches the dead mounts at the mount point: each restarted
// server mounted over the one before it, and a dead FUSE mount answers
// ENOTCONN.
func (k *keeper) cleanDead() {
	k.mu.Lock()
	n := k.restarts + 1
	k.mu.Unlock()
	for range n {
		var st unix.Stat_t
		if unix.Stat(k.cfg.Dir, &st) != unix.ENOTCONN {
			return
		}
		if unix.Unmount(k.cfg.Dir, unix.MNT_DETACH) != nil {
			return
		}
	}
}

// exitCode is an exit status the command passes on.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// ExitCode is the status a keeper's error asks to exit with, if it is
// only that.
func ExitCode(err error) (int, bool) {
	var e exitCode
	if errors.As(err, &e) {
		return int(e), true
	}
	return 0, false
}

func describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled():
		return "killed by signal " + strconv.Itoa(int(ws.Signal())) + " (" + ws.Signal().String() + ")"
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	}
	return ws.Signal().String()
}

// serve runs one server until it ends. It runs on a thread of its own,
// locked, since the kernel sends PR_SET_PDEATHSIG when the thread that
// started the child ends, not the process.
func (k *keeper) serve(gen int) (syscall.WaitStatus, error) {
	type result struct {
		ws  syscall.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with the goroutine, and the
		// server then gets SIGKILL only if the keeper is gone.
		ws, err := k.serveLocked(gen)
		done <- result{ws, err}
	}()
	r := <-done
	return r.ws, r.err
}

func (k *keeper) serveLocked(gen int) (syscall.WaitStatus, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	mine, theirs := fds[0], fds[1]
	cmd := exec.Command(k.cfg.Argv[0], k.cfg.Argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	ready := k.cfg.Ready
	if gen > 0 || ready == nil {
		ready, _ = os.Open(os.DevNull)
		defer ready.Close()
	}
	k.mu.Lock()
	held := make([]*os.File, 0, len(k.held))
	for _, f := range k.held {
		held = append(held, f)
	}
	logf := k.log
	k.mu.Unlock()
	conn := os.NewFile(uintptr(theirs), "keeper")
	cmd.ExtraFiles = append([]*os.File{ready, conn, logf}, held...)
	env := os.Environ()
	if gen > 0 {
		// Only the first server is the one a service manager waits to
		// hear from.
		env = without(env, "NOTIFY_SOCKET")
	}
	if gen == 0 && k.cfg.ReadyEnv != "" {
		env = append(env, k.cfg.ReadyEnv)
	}
	cmd.Env = append(env, envHeld+"="+strconv.Itoa(len(held)), envRestarts+"="+strconv.Itoa(gen))
	// A process group of its own, so that a terminal's ^C reaches the
	// keeper only, which passes it on once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = cmd.Start()
	conn.Close()
	if err != nil {
		unix.Close(mine)
		return 0, err
	}
	if k.cfg.Ready != nil && gen == 0 {
		k.cfg.Ready.Close()
	}
	k.mu.Lock()
	k.server = cmd.Process.Pid
	k.served = time.Now()
	k.mu.Unlock()

	// The server's messages, until its end of the socket closes.
	read := make(chan struct{})
	go func() {
		defer close(read)
		k.receive(mine)
	}()
	cmd.Wait()
	// Whatever the server sent before it died is still in the socket.
	<-read
	unix.Close(mine)
	k.mu.Lock()
	k.server = 0
	k.mode = "" // the next server says again
	k.mu.Unlock()
	return cmd.ProcessState.Sys().(syscall.WaitStatus), nil
}

// receive takes the server's messages until the server is gone. The
// buffers are made once per server.
func (k *keeper) receive(sock int) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		m, err := readMessage(sock, buf, oob)
		if err != nil {
			return
		}
		k.mu.Lock()
		switch m.verb {
		case "keep":
			ino, _ := strconv.ParseUint(m.arg, 10, 64)
			if _, ok := k.held[ino]; !ok && m.fd >= 0 {
				k.held[ino] = os.NewFile(uintptr(m.fd), "memfd")
				m.fd = -1
			}
		case "drop":
			ino, _ := strconv.ParseUint(m.arg, 10, 64)
			if f, ok := k.held[ino]; ok {
				f.Close()
				delete(k.held, ino)
			}
		case "log":
			if m.fd >= 0 {
				k.log.Close()
				k.log = os.NewFile(uintptr(m.fd), "shmfs-state")
				m.fd = -1
			}
		case "mode":
			k.mode = m.arg
		}
		k.mu.Unlock()
		if m.fd >= 0 {
			unix.Close(m.fd)
		}
	}
}

func without(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, e := range env {
		for _, n := range names {
			if len(e) > len(n) && e[:len(n)+1] == n+"=" {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}
