// Command shmfs mounts and unmounts shmfs, a file system of System V IPC
// namespaces.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/shmfs/shmfs/internal/bench"
)

const usage = `shmfs: System V IPC namespaces as files

usage:
  shmfs mount [flags] MOUNTPOINT    mount and serve (see shmfs mount --help)
  shmfs umount [--lazy] MOUNTPOINT  unmount; refuses while segments are open
  shmfs bench [flags]               measure shmfs against /dev/shm and System V (see shmfs bench --help)
  shmfs --help                      this text
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "shmfs: no command (try shmfs --help)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "mount":
		err = mountCmd(os.Args[2:])
	case "umount", "unmount":
		err = umountCmd(os.Args[2:])
	case "bench":
		err = bench.Cmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (try shmfs --help)", os.Args[1])
	}
	if err != nil {
		// One line, whatever the error carries.
		fmt.Fprintln(os.Stderr, "shmfs:", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}
