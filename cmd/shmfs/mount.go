package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	rtdebug "runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/fs"
	"github.com/shmfs/shmfs/internal/keeper"
	"github.com/shmfs/shmfs/nsmodel"
)

// readyFdEnv names the descriptor on which a --background child says that
// its mount is ready, or why it failed.
const readyFdEnv = "SHMFS_READY_FD"

func mountCmd(args []string) (err error) {
	child := os.Getenv(readyFdEnv) != "" || os.Getenv(backgroundEnv) != ""
	if child {
		// A --background child: the parent reports why it failed.
		defer func() {
			if err != nil {
				tellParent("err " + err.Error())
			}
		}()
	}
	fl := flag.NewFlagSet("mount", flag.ContinueOnError)
	const usage = `usage: shmfs mount [flags] MOUNTPOINT

Mounts shmfs on MOUNTPOINT and serves it in the foreground until SIGINT,
SIGTERM or an unmount, then exits 0. Prints one line when the mount is
ready. A dead shmfs mount left on MOUNTPOINT is cleaned up first. On
SIGINT or SIGTERM every caller blocked on a queue or a set gets EIDRM, the
mount goes (detached if still busy) and the server exits within 2 s; a
second signal ends it at once.

flags:
`
	root := os.Geteuid() == 0
	background := fl.Bool("background", false, "return once the mount is ready and leave the server running detached")
	allowOther := fl.Bool("allow-other", root, "let other users use the mount (on by default when run as root; --allow-other=false to refuse them)")
	noPassthrough := fl.Bool("no-passthrough", false, "serve segment I/O through the server even where FUSE passthrough is available")
	debug := fl.Bool("debug", false, "log every FUSE request (to the log, else to stderr)")
	ioUring := fl.String("io-uring", "auto", "serve requests from per-CPU io_uring rings: auto (when /sys/module/fuse/parameters/enable_uring is Y), on (turn it on; root), off")
	isolate := fl.Bool("isolate", false, "show each caller that is not root in the server's namespaces only the namespace of its own kernel IPC namespace (see docs/containers.md)")
	maxRestarts := fl.Int("max-restarts", keeper.DefaultMaxRestarts, "restart a server that dies (kill -9, a panic) at most `N` times within a minute, then give up and unmount (see docs/crash.md)")
	logPath := fl.String("log", "", "append one line per event (mount, unmount, signals, warnings, refused commands; with --debug every request) to `FILE`;\nwith --background the default is /var/log/shmfs/<mount point>.log as root, $XDG_RUNTIME_DIR/shmfs/<mount point>.log otherwise,\nthe mount point's slashes as dashes (/mnt/shmfs: mnt-shmfs.log); in the foreground, warnings go to stderr")
	operands, help, err := parseFlags(fl, usage, args)
	if err != nil {
		return fmt.Errorf("mount: %v", err)
	}
	if help {
		return nil
	}
	if len(operands) != 1 {
		return errors.New("mount: need exactly one MOUNTPOINT (see shmfs mount --help)")
	}
	dir, err := filepath.Abs(operands[0])
	if err != nil {
		return fmt.Errorf("mount %s: %v", operands[0], err)
	}
	if *background {
		return startBackground(args, dir)
	}
	// A server its keeper restarts mounts over the dead mount of the one
	// before (docs/crash.md), which cleaning it up would leave a moment
	// without one.
	if !keeper.Restarting() {
		if err := prepareMountpoint(dir); err != nil {
			return fmt.Errorf("mount %s: %v", dir, err)
		}
	}
	if !root {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if _, err2 := exec.LookPath("fusermount"); err2 != nil {
				return fmt.Errorf("mount %s: not root and fusermount3 is not installed (install the fuse3 package, or run as root)", dir)
			}
		}
	}
	if !serving {
		return runKeeper(args, dir, *logPath, child, *maxRestarts)
	}
	lg, err := openServerLog(*logPath, child, dir, *debug)
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	if child {
		lg.takeStderr()
	}
	if n := entriesIn(dir); n > 0 {
		lg.Warn(fmt.Sprintf("%s is not empty: its %d entries are hidden while shmfs is mounted there", dir, n))
	}
	// Take signals from here on, so that one that comes while mounting
	// still unmounts.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	raiseNofile()
	// The heap is small, and most of it lives as long as its segments:
	// collecting at half again the live heap, not twice it, keeps an idle
	// segment's share of the resident size under 2 KiB.
	if os.Getenv("GOGC") == "" {
		rtdebug.SetGCPercent(gcPercent)
	}
	model, kept, err := serverModel(lg)
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	m, err := fs.New(dir, model, fs.Config{
		AllowOther:    *allowOther,
		DirectMount:   root,
		NoPassthrough: *noPassthrough,
		Debug:         *debug,
		Isolate:       *isolate,
		IOUring:       *ioUring,
		Log:           lg.Logger,
		Survivors:     serverSurvivors(kept),
	})
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	serverMounted(kept, m)
	ready := fmt.Sprintf("shmfs: mounted on %s, segment I/O %s, requests over %s", dir, m.Mode(), m.Transport())
	if lg.path != "" {
		ready += ", log in " + lg.path
	}
	v, _ := buildVersion()
	lg.Info("mounted", "dir", dir, "mode", m.Mode(), "pid", os.Getpid(), "version", v)
	if child {
		// The parent prints the line, and tells the service manager
		// (it is the process the manager started).
		tellParent("ok " + ready)
	} else if !keeper.Restarting() {
		// (A restarted server says so in the log, not on the terminal.)
		fmt.Println(ready)
		if err := sdNotify("READY=1", "STATUS=mounted on "+dir); err != nil {
			lg.Warn("sd_notify: " + err.Error())
		}
	}

	go stopOnSignal(sig, m, model, dir, lg)
	m.Server.Wait()
	notifyStopping("unmounted")
	lg.Info("unmounted", "dir", dir)
	return nil
}

// stopGrace is how long a server that was told to stop goes on serving
// a mount that is still in use before it exits anyway.
const stopGrace = 2 * time.Second

// stopOnSignal ends the server on SIGINT or SIGTERM, whatever its callers
// are doing. Every caller blocked on a queue or a set wakes with EIDRM, as
// if its object were removed, so that its request ends and it can close
// its file; then the mount is unmounted, or detached if it is still busy
// (a segment open or mapped), and the server exits when serving ends, or
// after stopGrace. A second signal ends the server at once. (Before,
// a reader blocked on a queue held the detached mount and the server
// forever, and later signals went unheard.)
func stopOnSignal(sig chan os.Signal, m *fs.Mount, model *nsmodel.Model, dir string, lg *serverLog) {
	s := <-sig
	lg.Info("signal: unmounting", "signal", s.String(), "dir", dir)
	notifyStopping("unmounting on " + s.String())
	model.Shutdown(unix.EIDRM)
	// Never stopped: once the mount is unmounted the server returns from
	// Wait and exits long before it fires.
	time.AfterFunc(stopGrace, func() {
		lg.Warn("still in use after the grace period: ending the server; open files of the mount now fail with ENOTCONN", "dir", dir, "grace", stopGrace.String())
		exitNow(dir)
	})
	go func() {
		s := <-sig
		lg.Warn("second signal: ending the server now", "signal", s.String(), "dir", dir)
		exitNow(dir)
	}()
	if err := m.Unmount(); err != nil {
		// Busy: detach the mount so that no new user comes; the users it
		// has (now unblocked) finish, or the grace period ends.
		lg.Warn("busy: detached the mount; the server ends when its last user does, or in "+stopGrace.String(), "dir", dir, "users", strings.Join(usersOf(dir), ","))
		unix.Unmount(dir, unix.MNT_DETACH)
		// Callers that blocked while the mount was going away.
		model.Shutdown(unix.EIDRM)
	}
}

var stopping sync.Once

// notifyStopping tells the service manager, once, that the server is
// stopping, and why.
func notifyStopping(status string) {
	stopping.Do(func() { sdNotify("STOPPING=1", "STATUS="+status) })
}

// exitNow ends a server that must stop while requests are still in
// flight: the mount is detached (if it is not gone yet) and the process
// exits, which closes /dev/fuse; the kernel then fails what is left with
// ENOTCONN.
func exitNow(dir string) {
	unix.Unmount(dir, unix.MNT_DETACH)
	os.Exit(0)
}

// entriesIn counts what a mount on dir would hide.
func entriesIn(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

// gcPercent is the server's GOGC, unless the environment sets one.
const gcPercent = 50

// raiseNofile lifts RLIMIT_NOFILE as far as the server may: the server
// holds one memfd per segment, so the limit bounds the segments of all
// namespaces together. The hard limit rises to fs.nr_open where the
// server has CAP_SYS_RESOURCE; the soft one always to the hard one. What
// is still short is said at mount (fs.New), and a create past it fails
// with ENOSPC.
func raiseNofile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > lim.Max {
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}) == nil {
				return
			}
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// prepareMountpoint refuses a mount point that is not a directory and
// cleans up a dead shmfs mount ("transport endpoint is not connected").
func prepareMountpoint(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, syscall.ENOTCONN) {
		if _, fstype := mountedOn(dir); !strings.Contains(fstype, "shmfs") {
			return fmt.Errorf("a dead %s mount is there; unmount it first", fstype)
		}
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("cleaning up the dead shmfs mount there: %v", err)
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	if mounted, fstype := mountedOn(dir); mounted && strings.Contains(fstype, "shmfs") {
		return errors.New("shmfs is already mounted there")
	}
	return nil
}

// mountedOn reports whether dir is a mount point, and of what type.
func mountedOn(dir string) (bool, string) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var found bool
	var fstype string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 2 && unescapeMount(fields[1]) == dir {
			found, fstype = true, fields[0]+" "+fields[2]
		}
	}
	return found, fstype
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// startBackground runs the same mount in a detached child (flags args,
// which may hold --background, and the mount point dir) and returns once
// the child says the mount is ready, or passes on why it failed. It
// prints the ready line with the child's pid, unless quiet, and tells a
// service manager that the child is the service's main process.
func startBackground(args []string, dir string) error {
	var rest []string
	for _, a := range args {
		if a != "--background" && a != "-background" && a != "--background=true" && a != "-background=true" {
			rest = append(rest, a)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The warning a foreground mount logs to stderr; the background
	// server logs it to its log, which the user may never read.
	if n := entriesIn(dir); n > 0 && prepareMountpoint(dir) == nil {
		fmt.Fprintf(os.Stderr, "shmfs: warning: %s is not empty: its %d entries are hidden while shmfs is mounted there\n", dir, n)
	}
	cmd := exec.Command(self, append([]string{"mount"}, rest...)...)
	cmd.Env = append(os.Environ(), readyFdEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	if msg, ok := strings.CutPrefix(line, "ok "); ok {
		if !quietBackground {
			fmt.Printf("%s (pid %d)\n", msg, cmd.Process.Pid)
		}
		sdNotify("MAINPID="+strconv.Itoa(cmd.Process.Pid), "READY=1", "STATUS=mounted on "+dir)
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if msg, ok := strings.CutPrefix(line, "err "); ok {
		return errors.New(msg)
	}
	return errors.New("mount: the background server exited before the mount was ready")
}

// quietBackground keeps startBackground from printing the ready line: a
// mount helper run by mount(8) says nothing unless -v.
var quietBackground bool

func tellParent(msg string) {
	f := os.NewFile(3, "ready")
	if os.Getenv(readyFdEnv) != "3" || f == nil {
		return
	}
	fmt.Fprintln(f, msg)
	f.Close()
	os.Unsetenv(readyFdEnv)
}
