package fs

import (
	"context"
	"fmt"
	"strconv"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// nsCtlNode is MOUNT/<ns>/ctl: the namespace's binding to a kernel IPC
// namespace. A read shows the binding; each write is one command:
//
//	bind pid=N               the kernel IPC namespace of process N
//	bind path=/proc/N/ns/ipc the one whose nsfs file is there
//	unbind
//
// and the same handle then reads back the binding as the command left
// it. Only an administrator may bind or unbind (EPERM).
type nsCtlNode struct {
	ctlNode
	t  *tenancy
	ns *nsmodel.Namespace
}

var _ = (gofs.NodeOpener)((*nsCtlNode)(nil))

func newNSCtl(t *tenancy, ns *nsmodel.Namespace) *nsCtlNode {
	n := &nsCtlNode{t: t, ns: ns}
	n.exec = n.run
	return n
}

// Open starts the handle with the binding as it is, for a read that
// comes before any command.
func (n *nsCtlNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &ctlHandle{exec: n.exec, last: []byte(n.status())}, fuse.FOPEN_DIRECT_IO, 0
}

// status is "bound ipc:[N]" (with " auto" for a namespace made by the
// first use from that kernel namespace) or "unbound".
func (n *nsCtlNode) status() string {
	k, auto, ok := n.ns.Binding()
	switch {
	case !ok:
		return "unbound\n"
	case auto:
		return fmt.Sprintf("bound %s auto\n", k)
	}
	return fmt.Sprintf("bound %s\n", k)
}

func (n *nsCtlNode) run(c *nsmodel.Cred, cmd *ctlCmd) (string, error) {
	model := n.t.model
	switch cmd.op {
	case "bind":
		pidText, byPid := cmd.str("pid")
		path, byPath := cmd.str("path")
		if byPid == byPath {
			return "", syscall.EINVAL
		}
		if err := cmd.done(); err != nil {
			return "", err
		}
		var err error
		if byPid {
			pid, perr := strconv.ParseInt(pidText, 10, 32)
			if perr != nil {
				return "", syscall.EINVAL
			}
			err = model.BindPid(c, n.ns, int32(pid))
		} else {
			err = model.BindPath(c, n.ns, path)
		}
		if err != nil {
			return "", err
		}
	case "unbind":
		if err := cmd.done(); err != nil {
			return "", err
		}
		if err := model.Unbind(c, n.ns); err != nil {
			return "", err
		}
	default:
		return "", syscall.EINVAL
	}
	return n.status(), nil
}
