package kernelipc

import (
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// LimitNames are the files of /proc/sys/kernel that belong to an IPC
// namespace and that limits/ shows.
var LimitNames = []string{"shmmax", "shmall", "shmmni", "msgmax", "msgmnb", "msgmni", "sem"}

// ControlNames are the other ipc sysctls of the namespace, listed in
// limits/ after LimitNames and read and written the same way: what they
// do, and who may write them (the *_next_id files are 0444 and open to
// writing only with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the
// namespace's user namespace), is the kernel's to decide.
var ControlNames = []string{"auto_msgmni", "msg_next_id", "sem_next_id", "shm_next_id", "shm_rmid_forced"}

// isLimit reports whether name is one of LimitNames or ControlNames.
func isLimit(name string) bool {
	return slices.Contains(LimitNames, name) || slices.Contains(ControlNames, name)
}

// ReadLimit reads /proc/sys/kernel/<name> of the namespace with the
// caller's credentials: the kernel resolves the ipc sysctls through the
// reading thread's namespace (sysctl set_lookup) and checks the reader
// (ipc_permissions, then the file mode).
func (ns *Namespace) ReadLimit(c *Cred, name string) ([]byte, error) {
	if !isLimit(name) {
		return nil, unix.ENOENT
	}
	var b []byte
	err := ns.call(c, func() (err error) { b, err = readFile("/proc/sys/kernel/" + name); return })
	return b, err
}

// WriteLimit writes text to /proc/sys/kernel/<name> of the namespace
// with the caller's credentials, in one write(2) at offset 0, as
// `echo text > /proc/sys/kernel/<name>` does: the kernel parses it and
// gives its own errno.
func (ns *Namespace) WriteLimit(c *Cred, name string, text []byte) error {
	if !isLimit(name) {
		return unix.ENOENT
	}
	return ns.call(c, func() error {
		fd, err := unix.Open("/proc/sys/kernel/"+name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, text)
		return err
	})
}

// CheckLimit opens /proc/sys/kernel/<name> of the namespace for reading,
// or writing, with the caller's credentials and closes it: the errno an
// open of the file itself would give.
func (ns *Namespace) CheckLimit(c *Cred, name string, write bool) error {
	if !isLimit(name) {
		return unix.ENOENT
	}
	mode := unix.O_RDONLY
	if write {
		mode = unix.O_WRONLY
	}
	return ns.call(c, func() error {
		fd, err := unix.Open("/proc/sys/kernel/"+name, mode|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
}

// Sysvipc is the namespace's /proc/sysvipc/<kind> (shm, msg or sem),
// read with the caller's credentials: the file shows the namespace of
// the thread that opens it (sysvipc_proc_open).
func (ns *Namespace) Sysvipc(c *Cred, kind string) ([]byte, error) {
	switch kind {
	case "shm", "msg", "sem":
	default:
		return nil, unix.ENOENT
	}
	var b []byte
	err := ns.call(c, func() (err error) { b, err = readFile("/proc/sysvipc/" + kind); return })
	return b, err
}

// readFile reads a whole /proc file on the calling thread (os.ReadFile
// would do too, but this keeps every read on the serving thread
// explicit and unbuffered by size guesses).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapErrno(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return b, unwrapErrno(err)
}

// unwrapErrno gives the errno inside an *os.PathError and the like, which
// is what callers turn into FUSE replies.
func unwrapErrno(err error) error {
	if err == nil {
		return nil
	}
	for {
		switch e := err.(type) {
		case unix.Errno:
			return e
		case *os.PathError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}
