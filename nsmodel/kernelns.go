package nsmodel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelNS names a kernel IPC namespace by the inode number of its nsfs
// file, as /proc/<pid>/ns/ipc shows it: ipc:[4026531839]. Every
// namespace lives on the one nsfs superblock, so the number alone names
// it, but only while the namespace lives: the kernel hands a freed
// number to the next namespace it makes (proc_alloc_inum), which is why
// a binding holds its namespace open (kernelNSFile).
type KernelNS uint64

// String is the form readlink(/proc/<pid>/ns/ipc) gives.
func (k KernelNS) String() string { return fmt.Sprintf("ipc:[%d]", uint64(k)) }

// AutoName is the name of the namespace made for k by its first use.
func (k KernelNS) AutoName() string { return fmt.Sprintf("ipc-%d", uint64(k)) }

// procNSPath is the nsfs file of pid's kernel IPC namespace.
func procNSPath(pid int32) string { return fmt.Sprintf("/proc/%d/ns/ipc", pid) }

// KernelNSOf is the kernel IPC namespace of process (or thread) pid as
// the server's /proc shows it. Pid 0, which FUSE gives for a caller
// outside the server's pid namespace, names no process: ESRCH, as for a
// process that is gone.
func KernelNSOf(pid int32) (KernelNS, error) {
	if pid <= 0 {
		return 0, unix.ESRCH
	}
	var st unix.Stat_t
	if err := unix.Stat(procNSPath(pid), &st); err != nil {
		return 0, unix.ESRCH
	}
	return KernelNS(st.Ino), nil
}

// kernelNSFile is an open nsfs file of a kernel IPC namespace. While it
// is open the namespace cannot be freed, so its inode number names no
// other namespace.
type kernelNSFile struct {
	k  KernelNS
	fd int
}

// openKernelNS opens the nsfs file at path and checks that it is an IPC
// namespace: ENOENT (or another open error) as open gives it, EINVAL for
// a file that is not one.
func openKernelNS(path string) (*kernelNSFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// nsfs files read back as "ipc:[N]" through /proc/self/fd; nothing
	// else does.
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstat(fd, &st)
	}
	if err != nil || link != KernelNS(st.Ino).String() {
		unix.Close(fd)
		return nil, unix.EINVAL
	}
	return &kernelNSFile{k: KernelNS(st.Ino), fd: fd}, nil
}

func (f *kernelNSFile) close() { unix.Close(f.fd) }

// LiveKernelNS reports which of the kernel IPC namespaces in want still
// hold a process, by one pass over /proc/<pid>/ns/ipc. Threads are not
// looked at: a namespace whose only members are threads that moved
// there by setns(2) while their leader did not counts as ended.
func LiveKernelNS(want map[KernelNS]bool) (map[KernelNS]bool, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	live := make(map[KernelNS]bool)
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			pid, perr := strconv.ParseInt(name, 10, 32)
			if perr != nil || strings.HasPrefix(name, "0") {
				continue
			}
			if k, kerr := KernelNSOf(int32(pid)); kerr == nil && want[k] {
				live[k] = true
				if len(live) == len(want) {
					return live, nil
				}
			}
		}
		if err != nil {
			return live, nil
		}
	}
}
