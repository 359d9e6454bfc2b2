package fs

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// A refused command (a ctl command, a limit, a set's SETVAL or semop)
// leaves one line on the handle it was written to, saying why, and the
// server's log gets the same line: the errno alone ("Invalid argument")
// tells a user nothing of which field was wrong.
//
//	exec 3<>MOUNT/default/shm/ctl
//	echo 'IPC_CREAT key=0x5' >&3     # sh: write error: Invalid argument
//	cat <&3                          # EINVAL: size= is required

// refusal is an errno with its reason.
type refusal struct {
	errno syscall.Errno
	why   string
}

func (r *refusal) Error() string { return r.why }

// Unwrap lets errors.Is find the errno.
func (r *refusal) Unwrap() error { return r.errno }

// refuse makes a refusal of errno e, its reason formatted as fmt does.
func refuse(e syscall.Errno, format string, args ...any) error {
	return &refusal{errno: e, why: fmt.Sprintf(format, args...)}
}

// because gives a model's bare errno the reason that the command being
// run knows of (explain); an error that has one keeps it.
func because(err error, explain func(syscall.Errno) string) error {
	if err == nil {
		return nil
	}
	var r *refusal
	if errors.As(err, &r) {
		return err
	}
	e := errno(err)
	if why := explain(e); why != "" {
		return &refusal{errno: e, why: why}
	}
	return err
}

// reasonLine is the line a handle shows after err refused a command:
// the errno's name, and the reason, or the errno's text when no reason
// was given.
func reasonLine(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return fmt.Sprintf("%s: %s\n", unix.ErrnoName(r.errno), r.why)
	}
	e := errno(err)
	return fmt.Sprintf("%s: %s\n", unix.ErrnoName(e), e.Error())
}

// refusalLog is the server's log (Config.Log), set when the mount is
// made; nil logs nothing.
var refusalLog atomic.Pointer[slog.Logger]

// logRefusal puts a refusal in the server's log.
func logRefusal(file string, command []byte, err error) {
	if l := refusalLog.Load(); l != nil {
		line := reasonLine(err)
		l.Info("refused", "file", file, "command", string(trimCommand(command)), "reason", line[:len(line)-1])
	}
}

// trimCommand is a command as the log shows it: its first line, cut at
// 200 bytes.
func trimCommand(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			b = b[:i]
			break
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return b
}

// lookupReason explains why an object named name was not found.
func lookupReason(name string) func(syscall.Errno) string {
	return func(e syscall.Errno) string {
		switch e {
		case syscall.ENOENT, syscall.EINVAL:
			return fmt.Sprintf("no object %s", name)
		case syscall.EIDRM:
			return fmt.Sprintf("%s was removed", name)
		}
		return ""
	}
}

// opReason explains why op on the object named name was refused.
func opReason(op, name string) func(syscall.Errno) string {
	return func(e syscall.Errno) string {
		switch e {
		case syscall.EPERM:
			return fmt.Sprintf("%s %s: only its owner, its creator or a privileged user may", op, name)
		case syscall.EACCES:
			return fmt.Sprintf("%s %s: its mode denies it", op, name)
		case syscall.EIDRM:
			return fmt.Sprintf("%s was removed", name)
		case syscall.ERANGE:
			return fmt.Sprintf("%s %s: a value is out of range (0..%d)", op, name, nsmodel.SemVMX)
		case syscall.EFBIG:
			return fmt.Sprintf("%s %s: no such semaphore number", op, name)
		case syscall.ENOMEM:
			return fmt.Sprintf("%s %s: over RLIMIT_MEMLOCK", op, name)
		case syscall.EINVAL:
			return fmt.Sprintf("%s %s: invalid for this object", op, name)
		}
		return ""
	}
}

// createReason explains why IPC_CREAT of key in a table of kind was
// refused.
func createReason(kind string, key int32) func(syscall.Errno) string {
	k := fmt.Sprintf("%#x", uint32(key))
	if key == 0 {
		k = "IPC_PRIVATE"
	}
	return func(e syscall.Errno) string {
		switch e {
		case syscall.EEXIST:
			return fmt.Sprintf("key %s exists (IPC_EXCL)", k)
		case syscall.EACCES:
			return fmt.Sprintf("key %s exists and its mode denies the access asked", k)
		case syscall.ENOSPC:
			return fmt.Sprintf("no room for another %s object: the namespace's limits (limits/) are reached", kind)
		case syscall.ENOMEM:
			return "out of memory"
		case syscall.ENOENT:
			return "the namespace was removed"
		case syscall.EINVAL:
			switch kind {
			case "shm":
				return fmt.Sprintf("size is outside 1..shmmax, or key %s exists with a smaller size", k)
			case "sem":
				return fmt.Sprintf("nsems is outside 1..semmsl, or key %s exists with fewer semaphores", k)
			}
		}
		return ""
	}
}

// limitReason explains why a write of data to limits/name was refused.
func limitReason(name string, data []byte) func(syscall.Errno) string {
	v := string(trimCommand(data))
	return func(e syscall.Errno) string {
		switch e {
		case syscall.EINVAL:
			if name == "sem" {
				return fmt.Sprintf("%q is not four decimal numbers (semmsl semmns semopm semmni)", v)
			}
			return fmt.Sprintf("%q is not a decimal number in range for %s", v, name)
		case syscall.ERANGE:
			return fmt.Sprintf("%q is out of range for %s", v, name)
		case syscall.EACCES, syscall.EPERM:
			return fmt.Sprintf("only root (an administrator, where limits are quotas) may set %s", name)
		}
		return ""
	}
}

// semWriteReason explains why a write to a set's file was refused.
func semWriteReason(e syscall.Errno) string {
	switch e {
	case syscall.EINVAL:
		return "not a semop (NUM OP [FLAGS]; ...), SETVAL or SETALL, or a value the set refuses"
	case syscall.EFBIG:
		return "a semaphore number is past the set's last"
	case syscall.E2BIG:
		return "more operations than semopm"
	case syscall.ERANGE:
		return "a value would leave 0..32767"
	case syscall.EACCES:
		return "the set's mode denies it"
	case syscall.EIDRM:
		return "the set was removed"
	}
	return ""
}

// refName is how a reason names the object a command named.
func refName(r nsmodel.Ref) string {
	if r.ByID {
		return fmt.Sprintf("id=%d", r.ID)
	}
	return fmt.Sprintf("0x%08x", uint32(r.Key))
}
