package fs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/nsmodel"
)

// callerCred is who made a request. Pid 0 is the kernel acting on its
// own (writeback) but also any caller outside the server's pid
// namespace, so it does not make root of a caller: the model then goes by
// the uid alone.
func callerCred(ctx context.Context) *nsmodel.Cred {
	if c, ok := fuse.FromContext(ctx); ok {
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
