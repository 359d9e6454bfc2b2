package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func umountCmd(args []string) error {
	fl := flag.NewFlagSet("umount", flag.ContinueOnError)
	const usage = `usage: shmfs umount [--lazy] MOUNTPOINT

Unmounts shmfs. While segments are still open or mapped it names the pids
that hold them and fails, unless --lazy, which detaches the mount now and
lets it go when they are done.

flags:
`
	lazy := fl.Bool("lazy", false, "detach now even while segments are open (MNT_DETACH)")
	operands, help, err := parseFlags(fl, usage, args)
	if err != nil {
		return fmt.Errorf("umount: %v", err)
	}
	if help {
		return nil
	}
	if len(operands) != 1 {
		return errors.New("umount: need exactly one MOUNTPOINT (see shmfs umount --help)")
	}
	dir, err := filepath.Abs(operands[0])
	if err != nil {
		return fmt.Errorf("umount %s: %v", operands[0], err)
	}
	if ok, fstype := mountedOn(dir); !ok || !strings.Contains(fstype, "shmfs") {
		return fmt.Errorf("umount %s: no shmfs is mounted there", dir)
	}
	flags := 0
	if *lazy {
		flags = unix.MNT_DETACH
	} else if pids := usersOf(dir); len(pids) > 0 {
		return fmt.Errorf("umount %s: busy: open by pid %s (use --lazy to detach anyway)", dir, strings.Join(pids, ", "))
	}
	if os.Geteuid() != 0 {
		fargs := []string{"-u"}
		if *lazy {
			fargs = append(fargs, "-z")
		}
		out, err := exec.Command("fusermount3", append(fargs, dir)...).CombinedOutput()
		if err != nil {
			msg := strings.Join(strings.Fields(string(out)), " ")
			if errors.Is(err, exec.ErrNotFound) {
				msg = "not root and fusermount3 is not installed (install the fuse3 package, or run as root)"
			} else if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("umount %s: %s", dir, msg)
		}
		return nil
	}
	if err := unix.Unmount(dir, flags); err != nil {
		if err == unix.EBUSY {
			return fmt.Errorf("umount %s: busy (a process has its working directory there?); use --lazy to detach anyway", dir)
		}
		return fmt.Errorf("umount %s: %v", dir, err)
	}
	return nil
}

// usersOf lists the pids that have a file under dir open or mapped.
func usersOf(dir string) []string {
	procs, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	prefix := dir + "/"
	var pids []string
	for _, p := range procs {
		pid := p.Name()
		if _, err := strconv.Atoi(pid); err != nil || pid == self {
			continue
		}
		if holds(pid, prefix) {
			pids = append(pids, pid)
		}
	}
	sort.Slice(pids, func(i, j int) bool { a, _ := strconv.Atoi(pids[i]); b, _ := strconv.Atoi(pids[j]); return a < b })
	return pids
}

func holds(pid, prefix string) bool {
	fds, _ := os.ReadDir("/proc/" + pid + "/fd")
	for _, fd := range fds {
		if t, err := os.Readlink("/proc/" + pid + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(t, prefix) {
			return true
		}
	}
	maps, _ := os.ReadFile("/proc/" + pid + "/maps")
	return strings.Contains(string(maps), " "+prefix)
}
