package fs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// callerCred is who made a request. Requests the kernel makes on its own
// (pid 0) count as root.
func callerCred(ctx context.Context) *nsmodel.Cred {
	if c, ok := fuse.FromContext(ctx); ok && c.Pid != 0 {
		return nsmodel.NewCred(c.Uid, c.Gid, int32(c.Pid))
	}
	return nsmodel.RootCred()
}

// accessOf maps open flags to what ipcperms checks: read for O_RDONLY,
// write for O_WRONLY, both for O_RDWR, as shmat asks read and write unless
// SHM_RDONLY.
func accessOf(flags uint32) uint32 {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_WRONLY:
		return nsmodel.AccessWrite
	case syscall.O_RDWR:
		return nsmodel.AccessRead | nsmodel.AccessWrite
	}
	return nsmodel.AccessRead
}
