package fs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// fixedSetattr is an attribute change of a file or directory that the
// mount itself owns (uid 0, gid 0, permission bits perm): a ctl file, a
// limit, a sysvipc table, a directory. It is answered as /proc/sys
// answers for its files, and changes nothing:
//
//   - chmod and chown are EPERM, for everyone (proc_sys_setattr);
//   - a truncation needs write permission (EACCES), as vfs_truncate and
//     an O_TRUNC open ask it; writable says whether the caller has it
//     (the file's own rule, such as who may write a limit); any size but
//     0 is EINVAL for a file, since these files have no size to set;
//   - times are checked as setattr_prepare checks them: explicit times
//     are the owner's (or CAP_FOWNER's) to set, else EPERM; times set
//     to now also anyone's who may write, else EACCES.
//
// (Before, each of these answered 0 to everyone and changed nothing: a
// refusal that looked like a success.)
func fixedSetattr(c *nsmodel.Cred, in *fuse.SetAttrIn, perm uint32, dir bool) syscall.Errno {
	return fixedSetattrW(c, in, perm, dir, permits(c, perm, nsmodel.AccessWrite))
}

func fixedSetattrW(c *nsmodel.Cred, in *fuse.SetAttrIn, perm uint32, dir bool, writable bool) syscall.Errno {
	if in.Valid&(fuse.FATTR_MODE|fuse.FATTR_UID|fuse.FATTR_GID) != 0 {
		return syscall.EPERM
	}
	owner := c.UID == 0 || c.Capable(nsmodel.CapFowner)
	if set, now := setsTimes(in); set && !owner {
		if !now {
			return syscall.EPERM
		}
		if !writable {
			return syscall.EACCES
		}
	}
	if size, ok := in.GetSize(); ok {
		switch {
		case dir:
			return syscall.EISDIR
		case !writable:
			return syscall.EACCES
		case size != 0:
			return syscall.EINVAL
		}
	}
	return 0
}

// permits reports whether c has access (nsmodel.AccessRead or
// AccessWrite) to a file of uid 0 and gid 0 with permission bits perm,
// as generic_permission decides it: the owner's bits for uid 0 (who is
// also let through by CAP_DAC_OVERRIDE, which root has), the group's for
// gid 0, the others' for the rest.
func permits(c *nsmodel.Cred, perm uint32, access uint32) bool {
	if c.UID == 0 {
		return true
	}
	bits := perm & 0o7
	if c.InGroup(0) {
		bits = perm >> 3 & 0o7
	}
	a := access & 0o7
	return bits&a == a
}
