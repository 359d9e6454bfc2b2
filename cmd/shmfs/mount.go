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
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/fs"
	"github.com/shmfs/shmfs/nsmodel"
)

// readyFdEnv names the descriptor on which a --background child says that
// its mount is ready, or why it failed.
const readyFdEnv = "SHMFS_READY_FD"

func mountCmd(args []string) (err error) {
	if fd := os.Getenv(readyFdEnv); fd != "" {
		// A --background child: the parent reports why it failed.
		defer func() {
			if err != nil {
				tellParent(fd, "err "+err.Error())
			}
		}()
	}
	fl := flag.NewFlagSet("mount", flag.ContinueOnError)
	const usage = `usage: shmfs mount [flags] MOUNTPOINT

Mounts shmfs on MOUNTPOINT and serves it in the foreground until SIGINT,
SIGTERM or an unmount, then exits 0. Prints one line when the mount is
ready. A dead shmfs mount left on MOUNTPOINT is cleaned up first.

flags:
`
	root := os.Geteuid() == 0
	background := fl.Bool("background", false, "return once the mount is ready and leave the server running detached")
	allowOther := fl.Bool("allow-other", root, "let other users use the mount (on by default when run as root)")
	noPassthrough := fl.Bool("no-passthrough", false, "serve segment I/O through the server even where FUSE passthrough is available")
	debug := fl.Bool("debug", false, "log every FUSE request")
	isolate := fl.Bool("isolate", false, "show each caller that is not root in the server's namespaces only the namespace of its own kernel IPC namespace (see docs/containers.md)")
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
		return startBackground(args)
	}
	if err := prepareMountpoint(dir); err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	if !root {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if _, err2 := exec.LookPath("fusermount"); err2 != nil {
				return fmt.Errorf("mount %s: not root and fusermount3 is not installed (install the fuse3 package, or run as root)", dir)
			}
		}
	}
	// Take signals from here on, so that one that comes while mounting
	// still unmounts.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	raiseNofile()
	// The heap is small, and most of it lives as long as its segments:
	// collecting at half again the live heap, not twice it, keeps an idle
	// segment's share of the resident size under 2 KiB.
	if os.Getenv("GOGC") == "" {
		rtdebug.SetGCPercent(gcPercent)
	}
	m, err := fs.New(dir, nsmodel.NewModel(backing.New), fs.Config{
		AllowOther:    *allowOther,
		DirectMount:   root,
		NoPassthrough: *noPassthrough,
		Debug:         *debug,
		Isolate:       *isolate,
	})
	if err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	ready := fmt.Sprintf("shmfs: mounted on %s, segment I/O %s", dir, m.Mode())
	if fd := os.Getenv(readyFdEnv); fd != "" {
		tellParent(fd, "ok "+ready)
	} else {
		fmt.Println(ready)
	}

	go func() {
		<-sig
		if err := m.Unmount(); err != nil {
			// Busy: detach the mount so it goes once its users do.
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	}()
	m.Server.Wait()
	return nil
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

// startBackground runs the same mount in a detached child and returns once
// the child says the mount is ready, or passes on why it failed.
func startBackground(args []string) error {
	var rest []string
	for _, a := range args {
		if a != "--background" && a != "-background" && a != "--background=true" {
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
		fmt.Printf("%s (pid %d)\n", msg, cmd.Process.Pid)
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if msg, ok := strings.CutPrefix(line, "err "); ok {
		return errors.New(msg)
	}
	return errors.New("mount: the background server exited before the mount was ready")
}

func tellParent(fd, msg string) {
	f := os.NewFile(3, "ready")
	if fd != "3" || f == nil {
		return
	}
	fmt.Fprintln(f, msg)
	f.Close()
	os.Unsetenv(readyFdEnv)
}
