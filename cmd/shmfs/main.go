// Command shmfs mounts and unmounts shmfs, a file system of System V IPC
// namespaces.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shmfs/shmfs/internal/bench"
)

const usage = `shmfs: System V IPC namespaces as files

usage:
  shmfs mount [flags] MOUNTPOINT    mount and serve (see shmfs mount --help)
  shmfs umount [--lazy] MOUNTPOINT  unmount; refuses while segments are open
  shmfs status [--json] MOUNTPOINT  the keeper, the server, restarts and object counts
  shmfs ipcs [ipcs options] NSDIR   the real ipcs(1) on a namespace directory (MOUNT/<ns>)
  shmfs lsipc [lsipc options] NSDIR the real lsipc(1) on a namespace directory
  shmfs install [--prefix DIR]      install the binary, the mount(8) helper and the systemd unit
  shmfs bench [flags]               measure shmfs against /dev/shm and System V (see shmfs bench --help)
  shmfs version, shmfs --version    the version, the Go that built it, and FUSE passthrough on this kernel
  shmfs --help                      this text

As mount.fuse.shmfs (a link to this binary, which shmfs install makes),
it is the helper mount(8) runs for "mount -t fuse.shmfs" and fstab lines
of type fuse.shmfs: shmfs mount.fuse.shmfs --help says more.
`

func main() {
	if filepath.Base(os.Args[0]) == helperName {
		exit(helperCmd(os.Args[1:]))
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "shmfs: no command (try shmfs --help)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "mount":
		err = mountCmd(os.Args[2:])
	case "serve":
		err = serveCmd(os.Args[2:])
	case "status":
		err = statusCmd(os.Args[2:])
	case "umount", "unmount":
		err = umountCmd(os.Args[2:])
	case "bench":
		err = bench.Cmd(os.Args[2:])
	case "ipcs", "lsipc":
		err = ipcsCmd(os.Args[1], os.Args[2:])
	case "install":
		err = installCmd(os.Args[2:])
	case helperName:
		err = helperCmd(os.Args[2:])
	case "version", "--version", "-version", "-V":
		fmt.Print(versionText())
		return
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (try shmfs --help)", os.Args[1])
	}
	exit(err)
}

// exit ends the command: 0, or the error as one line and 1 (or the exit
// status it carries).
func exit(err error) {
	if err == nil {
		os.Exit(0)
	}
	if e, ok := err.(exitStatus); ok {
		os.Exit(int(e))
	}
	// One line, whatever the error carries.
	fmt.Fprintln(os.Stderr, "shmfs:", strings.Join(strings.Fields(err.Error()), " "))
	os.Exit(1)
}

// exitStatus is an error that is only an exit status: what was to be
// said has been said.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
