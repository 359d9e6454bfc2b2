package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// Under --isolate a caller that is not an administrator reaches, below
// MOUNT/kernel, only kernel/ itself, kernel/self, and the directory of
// its own kernel IPC namespace with all below it. isolatedFS tags the
// node ids it hands out (isolate.go): kernelTag gives the tag of a
// node below kernel/, and seesKernel decides a request on one.

// kernelTag is the tag of the node named name under parent, when parent
// is the root and name kernel/, or parent is itself below kernel/; ok is
// false otherwise. A namespace directory carries its namespace, and its
// descendants inherit it.
func kernelTag(parent uint64, ptag *nodeTag, name string) (nodeTag, bool) {
	if parent == fuse.FUSE_ROOT_ID {
		return nodeTag{kernel: true}, name == kernelName
	}
	if ptag == nil || !ptag.kernel {
		return nodeTag{}, false
	}
	kns := ptag.kns
	if kns == 0 {
		if id, ok := kernelipc.ParseName(name); ok {
			kns = uint64(id)
		}
	}
	return nodeTag{kernel: true, kns: kns}, true
}

// seesKernel reports whether caller c may reach the nodes of kernel
// namespace kns (0: kernel/ and kernel/self, which every caller may):
// without isolation always; with it, when c is in that namespace or is
// an administrator.
func (t *tenancy) seesKernel(c *nsmodel.Cred, kns uint64) bool {
	if !t.isolate || kns == 0 {
		return true
	}
	k, err := nsmodel.KernelNSOf(c.PID)
	if err != nil {
		return false
	}
	return uint64(k) == kns || t.model.IsAdminIn(c, k)
}
