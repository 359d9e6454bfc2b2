// Command shmfs mounts and unmounts shmfs, a file system of System V IPC
// namespaces.
package main

import (
	"fmt"
	"os"
)

const usage = `shmfs: System V IPC namespaces as files

usage:
  shmfs mount [flags] MOUNTPOINT    mount and serve (see shmfs mount --help)
  shmfs umount [--lazy] MOUNTPOINT  unmount; refuses while segments are open
  shmfs --help                      this text
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "mount":
		err = mountCmd(os.Args[2:])
	case "umount", "unmount":
		err = umountCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q (try shmfs --help)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shmfs:", err)
		os.Exit(1)
	}
}
