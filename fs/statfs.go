package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// StatFs answers statfs(2) on any node of the mount. go-fuse leaves the
// reply zeroed for a node that does not answer itself, and a zero
// f_namelen made `getconf NAME_MAX` print 0. The names here are at most
// 64 bytes (a namespace) and 10 (an object's key), but a file system
// that says 255 is what programs expect; blocks are the machine's
// memory, where segments live, in pages, as tmpfs counts them.
func (fs *nodeFS) StatFs(cancel <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if st := fs.RawFileSystem.StatFs(cancel, in, out); st != fuse.OK {
		return st
	}
	if out.NameLen == 0 {
		out.NameLen = 255
	}
	if out.Bsize == 0 {
		page := uint64(unix.Getpagesize())
		out.Bsize, out.Frsize = uint32(page), uint32(page)
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			unit := uint64(si.Unit)
			out.Blocks = uint64(si.Totalram) * unit / page
			out.Bfree = uint64(si.Freeram+si.Bufferram) * unit / page
			out.Bavail = out.Bfree
		}
	}
	return fuse.OK
}
