package keeper

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The keeper and its server talk over a SOCK_SEQPACKET socket pair, one
// message per datagram, a descriptor riding along with SCM_RIGHTS where
// there is one:
//
//	keep INO   + fd   hold this memfd (a new segment's pages)
//	drop INO          close the memfd of inode INO (its segment is destroyed)
//	log        + fd   this is the state record from now on; close the old one
//	mode TEXT         how segment I/O is served, for shmfs status
//
// The keeper answers nothing: a message is in the socket, the keeper's
// to read, once sendmsg returns, even if the server dies the next
// instant, so a create is acknowledged only after its memfd is safe.

// Descriptors a server started by a keeper inherits.
const (
	fdReady = 3 // the --background parent's ready pipe, or /dev/null
	fdConn  = 4 // the socket to the keeper
	fdLog   = 5 // the state record
	fdHeld  = 6 // and on: the memfds the keeper held
)

// Environment of a server started by a keeper.
const (
	envHeld     = "SHMFS_KEEPER_HELD"     // how many memfds from fdHeld on
	envRestarts = "SHMFS_KEEPER_RESTARTS" // restarts before this server
)

// Restarting reports whether this process is a server that a keeper
// started after another died: it mounts over the dead mount of that one
// rather than cleaning it up first, so that no lookup in between finds
// the empty directory beneath (docs/crash.md).
func Restarting() bool {
	n, _ := strconv.Atoi(os.Getenv(envRestarts))
	return n > 0
}

// Conn is the server's end of the socket to its keeper.
type Conn struct {
	mu sync.Mutex
	fd int
	// Restarts is how many servers of the mount died before this one.
	Restarts int
	held     int
}

// FromEnv is the connection to the keeper that started this process,
// or nil when none did.
func FromEnv() *Conn {
	v, ok := os.LookupEnv(envHeld)
	if !ok {
		return nil
	}
	n, _ := strconv.Atoi(v)
	r, _ := strconv.Atoi(os.Getenv(envRestarts))
	os.Unsetenv(envHeld)
	os.Unsetenv(envRestarts)
	for _, fd := range []int{fdConn, fdLog} {
		unix.CloseOnExec(fd)
	}
	for i := 0; i < n; i++ {
		unix.CloseOnExec(fdHeld + i)
	}
	return &Conn{fd: fdConn, Restarts: r, held: n}
}

// Held lists the memfds the keeper handed over; the caller owns them.
func (c *Conn) Held() []int {
	out := make([]int, c.held)
	for i := range out {
		out[i] = fdHeld + i
	}
	return out
}

// LogFd is the state record as the keeper held it.
func (c *Conn) LogFd() int { return fdLog }

func (c *Conn) send(msg string, fd int) error {
	if c == nil {
		return nil // a Log without a keeper (tests, benchmarks)
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		err := unix.Sendmsg(c.fd, []byte(msg), oob, nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// Keep hands the keeper the memfd fd of a new segment, whose inode is
// ino.
func (c *Conn) Keep(fd int, ino uint64) error {
	return c.send("keep "+strconv.FormatUint(ino, 10), fd)
}

// Drop tells the keeper that the memfd of inode ino is no longer
// needed.
func (c *Conn) Drop(ino uint64) error {
	return c.send("drop "+strconv.FormatUint(ino, 10), -1)
}

// SendLog hands the keeper a new state record.
func (c *Conn) SendLog(fd int) error { return c.send("log", fd) }

// Mode tells the keeper how segment I/O is served.
func (c *Conn) Mode(mode string) error { return c.send("mode "+mode, -1) }

// message is one message the keeper read: its text and the descriptor
// that came with it, or -1.
type message struct {
	verb, arg string
	fd        int
}

// readMessage reads one message into buf and oob, which the keeper
// reuses. An fd that comes with a message that does not want one is
// closed.
func readMessage(sock int, buf, oob []byte) (message, error) {
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return message{}, err
		}
		if n == 0 && oobn == 0 {
			return message{}, fmt.Errorf("closed")
		}
		m := message{fd: -1}
		if oobn > 0 {
			if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, cm := range cmsgs {
					if fds, err := unix.ParseUnixRights(&cm); err == nil {
						for _, fd := range fds {
							if m.fd < 0 {
								m.fd = fd
							} else {
								unix.Close(fd)
							}
						}
					}
				}
			}
		}
		m.verb, m.arg, _ = strings.Cut(string(buf[:n]), " ")
		return m, nil
	}
}
