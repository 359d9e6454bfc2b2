package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// helperName is the name mount(8) runs for a file system of type
// fuse.shmfs: /sbin/mount.fuse.shmfs, a link to this binary.
const helperName = "mount.fuse.shmfs"

const helperUsage = `usage: mount.fuse.shmfs SOURCE MOUNTPOINT [-v] [-s] [-n] [-f] [-o OPTIONS]

The mount(8) helper: mount -t fuse.shmfs shmfs /mnt/shmfs, or an fstab line

  shmfs  /mnt/shmfs  fuse.shmfs  allow_other,isolate,log=/var/log/shmfs.log  0 0

runs it as mount.fuse.shmfs shmfs /mnt/shmfs -o rw,nosuid,nodev,... It mounts
as shmfs mount --background would, says nothing (the ready line with -v),
and returns once the mount is ready. SOURCE is not used ("shmfs" by
convention). The server logs to log=FILE, else where shmfs mount --help
says for --background.

options:
  allow_other      --allow-other (on anyway as root)
  isolate          --isolate
  no_passthrough   --no-passthrough
  debug            --debug
  log=FILE         --log FILE
  io_uring=off     accepted; io_uring=on is refused: this shmfs serves /dev/fuse only
  rw defaults auto noauto user nouser users nofail _netdev nosuid nodev suid dev exec noexec
  atime noatime relatime strictatime lazytime x-* comment=...
                   generic options, ignored (FUSE mounts are nosuid,nodev anyway)
`

// helperCmd is mount.fuse.shmfs: the arguments as mount(8) passes them
// (tested with util-linux 2.38: SOURCE MOUNTPOINT, then -v if verbose,
// then -o with the options of the fstab line or of -o, noauto and
// x-systemd.* taken out, rw,nosuid,nodev put in).
func helperCmd(args []string) error {
	var operands, opts []string
	verbose, sloppy := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Print(helperUsage)
			return nil
		case a == "-v":
			verbose = true
		case a == "-s":
			sloppy = true
		case a == "-n":
			// No /etc/mtab to write: the kernel's table is the only one.
		case a == "-f":
			return nil // fake: do everything but the mount
		case a == "-o" || a == "-t" || a == "-N":
			if i+1 >= len(args) {
				return fmt.Errorf("%s: %s needs a value", helperName, a)
			}
			i++
			switch a {
			case "-o":
				opts = append(opts, strings.Split(args[i], ",")...)
			case "-t":
				if args[i] != "fuse.shmfs" && args[i] != "shmfs" {
					return fmt.Errorf("%s: type %q is not fuse.shmfs", helperName, args[i])
				}
			case "-N":
				return fmt.Errorf("%s: -N (mount in another mount namespace) is not supported: run mount inside that namespace (nsenter -m)", helperName)
			}
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, strings.Split(a[2:], ",")...)
		case strings.HasPrefix(a, "-") && a != "-":
			return fmt.Errorf("%s: unknown flag %s (see %s --help)", helperName, a, helperName)
		default:
			operands = append(operands, a)
		}
	}
	if len(operands) != 2 {
		return fmt.Errorf("%s: need SOURCE and MOUNTPOINT, as mount(8) passes them (see %s --help)", helperName, helperName)
	}
	flags, err := helperFlags(opts, sloppy)
	if err != nil {
		return fmt.Errorf("%s: %v", helperName, err)
	}
	dir, err := filepath.Abs(operands[1])
	if err != nil {
		return err
	}
	if err := prepareMountpoint(dir); err != nil {
		return fmt.Errorf("mount %s: %v", dir, err)
	}
	quietBackground = !verbose
	return startBackground(append(flags, dir), dir)
}

// helperFlags maps mount options to shmfs mount flags. An option that
// is neither shmfs's nor a generic one is refused, unless sloppy (-s).
func helperFlags(opts []string, sloppy bool) ([]string, error) {
	var flags []string
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, "=")
		switch {
		case o == "":
		case o == "allow_other":
			flags = append(flags, "--allow-other")
		case o == "isolate":
			flags = append(flags, "--isolate")
		case o == "no_passthrough":
			flags = append(flags, "--no-passthrough")
		case o == "debug":
			flags = append(flags, "--debug")
		case name == "log" && hasVal:
			if val == "" {
				return nil, errors.New("log= needs a file")
			}
			flags = append(flags, "--log", val)
		case name == "io_uring" && hasVal:
			switch val {
			case "off", "no", "0", "false":
			case "on", "yes", "1", "true", "auto":
				return nil, fmt.Errorf("io_uring=%s: this shmfs serves requests over /dev/fuse only (FUSE over io_uring is not built in yet); use io_uring=off or leave it out", val)
			default:
				return nil, fmt.Errorf("io_uring=%s: want on or off", val)
			}
		case o == "ro":
			return nil, errors.New("ro: shmfs cannot be mounted read-only (creating, sizing and removing objects are writes)")
		case genericOption(name):
		default:
			if !sloppy {
				return nil, fmt.Errorf("unknown option %q (see %s --help)", o, helperName)
			}
		}
	}
	return flags, nil
}

// genericOption reports whether a mount option is one that mount(8),
// fstab or systemd use for every file system, which shmfs ignores.
func genericOption(name string) bool {
	switch name {
	case "rw", "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group",
		"nofail", "_netdev", "nosuid", "suid", "nodev", "dev", "exec", "noexec",
		"sync", "async", "atime", "noatime", "relatime", "norelatime", "strictatime",
		"lazytime", "nolazytime", "diratime", "nodiratime", "comment":
		return true
	}
	return strings.HasPrefix(name, "x-")
}
