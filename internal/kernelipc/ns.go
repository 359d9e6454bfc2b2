package kernelipc

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// NSID names a kernel IPC namespace by the inode number of its nsfs
// file, as readlink(/proc/<pid>/ns/ipc) shows it: ipc:[4026531839]. The
// number names the namespace only while it lives (the kernel reuses a
// freed one), which is why a Namespace holds its nsfs file open.
type NSID uint64

// Name is the directory name of the namespace: ipc-<inode>.
func (id NSID) Name() string { return fmt.Sprintf("ipc-%d", uint64(id)) }

// String is the form readlink gives.
func (id NSID) String() string { return fmt.Sprintf("ipc:[%d]", uint64(id)) }

// ParseName is the inverse of Name; it accepts only the canonical form.
func ParseName(s string) (NSID, bool) {
	rest, ok := strings.CutPrefix(s, "ipc-")
	if !ok || rest == "" || rest[0] == '0' || rest[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, false
	}
	return NSID(v), true
}

// Of is the kernel IPC namespace of process (or thread) pid. Pid 0,
// which FUSE gives for a caller outside the server's pid namespace,
// names no process: ESRCH.
func Of(pid int32) (NSID, error) {
	if pid <= 0 {
		return 0, unix.ESRCH
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/ipc", pid), &st); err != nil {
		return 0, unix.ESRCH
	}
	return NSID(st.Ino), nil
}

// Live is the set of kernel IPC namespaces that hold a live process, each
// with one of its pids, by one pass over /proc/<pid>/ns/ipc. Only thread
// group leaders are looked at: the server's own serving threads, which
// moved into namespaces by setns, do not keep one listed.
func Live() (map[NSID]int32, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	live := make(map[NSID]int32)
	for {
		names, err := d.Readdirnames(512)
		for _, name := range names {
			if name == "" || name[0] < '1' || name[0] > '9' {
				continue
			}
			pid, perr := strconv.ParseInt(name, 10, 32)
			if perr != nil {
				continue
			}
			if id, err := Of(int32(pid)); err == nil {
				if _, ok := live[id]; !ok {
					live[id] = int32(pid)
				}
			}
		}
		if err != nil {
			return live, nil
		}
	}
}

// openNS opens the nsfs file of namespace id through process pid and
// checks that it is still that namespace (the process may have moved or
// ended, and its pid been reused).
func openNS(id NSID, pid int32) (int, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/ipc", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, unix.ENOENT
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || NSID(st.Ino) != id {
		unix.Close(fd)
		return -1, unix.ENOENT
	}
	return fd, nil
}

// findNS opens namespace id through any live process in it: ENOENT when
// none holds it.
func findNS(id NSID, hint int32) (int, error) {
	if hint > 0 {
		if fd, err := openNS(id, hint); err == nil {
			return fd, nil
		}
	}
	live, err := Live()
	if err != nil {
		return -1, err
	}
	pid, ok := live[id]
	if !ok {
		return -1, unix.ENOENT
	}
	return openNS(id, pid)
}
