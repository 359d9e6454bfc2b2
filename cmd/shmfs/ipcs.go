package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// ipcsFiles are the files ipcs(1) and lsipc(1) read, and where a
// namespace directory holds each: its tables over /proc/sysvipc, its
// limits over /proc/sys/kernel (ipcs -l, lsipc -g).
var ipcsFiles = [][2]string{
	{"sysvipc/shm", "/proc/sysvipc/shm"},
	{"sysvipc/msg", "/proc/sysvipc/msg"},
	{"sysvipc/sem", "/proc/sysvipc/sem"},
	{"limits/shmmax", "/proc/sys/kernel/shmmax"},
	{"limits/shmall", "/proc/sys/kernel/shmall"},
	{"limits/shmmni", "/proc/sys/kernel/shmmni"},
	{"limits/msgmax", "/proc/sys/kernel/msgmax"},
	{"limits/msgmnb", "/proc/sys/kernel/msgmnb"},
	{"limits/msgmni", "/proc/sys/kernel/msgmni"},
	{"limits/sem", "/proc/sys/kernel/sem"},
}

// ipcsCmd runs the real ipcs (or lsipc) on a namespace directory: in a
// mount namespace of its own, private, it bind-mounts the namespace's
// tables and limits over the /proc files the tool reads, then becomes
// the tool (exec), so its output and exit status are the tool's. What
// the tool asks the kernel by system call rather than through /proc
// (ipcs -u's totals, ipcs -i when /proc has no entry) is still the
// kernel's own.
func ipcsCmd(tool string, args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Printf(`usage: shmfs %[1]s [%[1]s options] NSDIR

Runs the real %[1]s on the shmfs namespace directory NSDIR (MOUNT/<ns>, or
MOUNT/self): NSDIR/sysvipc/* are bind-mounted over /proc/sysvipc/* and
NSDIR/limits/* over /proc/sys/kernel/* in a private mount namespace, then
%[1]s runs there with the options given. Its output and exit status are
%[1]s's. Needs root (it makes a mount namespace).
`, tool)
		return nil
	}
	if len(args) == 0 {
		return fmt.Errorf("%s: need a namespace directory, MOUNT/<ns> (see shmfs %s --help)", tool, tool)
	}
	nsdir := args[len(args)-1]
	opts := args[:len(args)-1]
	for _, f := range ipcsFiles {
		if _, err := os.Stat(filepath.Join(nsdir, f[0])); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s: %s is not a shmfs namespace directory: %s: %v", tool, nsdir, f[0], err)
		}
	}
	path, err := exec.LookPath(tool)
	if err != nil {
		return fmt.Errorf("%s: %v (install util-linux)", tool, err)
	}
	// The mount namespace is the calling thread's: the thread that
	// unshares it must be the one that execs.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		if err == unix.EPERM {
			return fmt.Errorf("%s: making a private mount namespace needs root (CAP_SYS_ADMIN): %v", tool, err)
		}
		return fmt.Errorf("%s: unshare: %v", tool, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("%s: making / private: %v", tool, err)
	}
	for _, f := range ipcsFiles {
		src := filepath.Join(nsdir, f[0])
		if err := unix.Mount(src, f[1], "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("%s: bind-mounting %s over %s: %v", tool, src, f[1], err)
		}
	}
	return syscall.Exec(path, append([]string{tool}, opts...), os.Environ())
}
