package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/shmfs/shmfs/internal/kernelipc"
	"github.com/shmfs/shmfs/nsmodel"
)

// kernel/ipc-<inode>/<kind>/info is the namespace's own *_INFO figures:
// the kind's IPC_INFO and SHM_INFO/MSG_INFO/SEM_INFO calls made by a
// serving thread inside it at each open, rendered by the model's Text so
// that the file reads byte for byte as a model namespace's info does
// (info_table.go, nsmodel/info.go).

// infoInode is the lookup of info below a kernel table.
func (d *kernelTable) infoInode(ctx context.Context, out *fuse.EntryOut) *gofs.Inode {
	ino := d.k.ino(d.id, kinoInfo, uint64(d.kind))
	fixedAttr(&out.Attr, syscall.S_IFREG|0o444)
	out.Attr.Ino = ino
	noCache(out)
	return d.NewInode(ctx, &kernelText{k: d.k, id: d.id, info: d.kind, isInfo: true}, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
}

// infoEntry is info in a kernel table's listing.
func (d *kernelTable) infoEntry() fuse.DirEntry {
	return fuse.DirEntry{Name: infoName, Mode: syscall.S_IFREG, Ino: d.k.ino(d.id, kinoInfo, uint64(d.kind))}
}

// openInfo is the open of info: read-only (EACCES for writing, as the
// 0444 file of a root-owned /proc file gives), its text made now.
func (n *kernelText) openInfo(ns *kernelipc.Namespace, c *kernelipc.Cred, write bool) (gofs.FileHandle, uint32, syscall.Errno) {
	if write {
		return nil, 0, syscall.EACCES
	}
	text, err := kernelInfoText(ns, c, n.info)
	if err != nil {
		return nil, 0, errno(err)
	}
	return &textHandle{text: []byte(text)}, textOpenFlags, 0
}

// kernelInfoText is the figures of the kind's two *_INFO calls in the
// namespace, in the model's structs and rendering. The two calls are
// made one after the other, not atomically, as `ipcs -l -u` makes them.
func kernelInfoText(ns *kernelipc.Namespace, c *kernelipc.Cred, kind int) (string, error) {
	switch kind {
	case kindShm:
		lim, use, maxIdx, err := ns.ShmInfo(c)
		if err != nil {
			return "", err
		}
		return nsmodel.ShmInfo{
			ShmMax: lim.ShmMax, ShmMin: lim.ShmMin, ShmMni: lim.ShmMni, ShmSeg: lim.ShmSeg, ShmAll: lim.ShmAll,
			UsedIDs: int(use.UsedIDs), ShmTot: use.ShmTot, ShmRss: use.ShmRss, ShmSwp: use.ShmSwp,
			SwapAttempts: use.SwapAttempts, SwapSuccesses: use.SwapSuccesses,
			MaxIdx: maxIdx,
		}.Text(), nil
	case kindMsg:
		lim, use, maxIdx, err := ns.MsgInfo(c)
		if err != nil {
			return "", err
		}
		return nsmodel.MsgInfo{
			MsgPool: int(lim.MsgPool), MsgMap: int(lim.MsgMap), MsgMax: int(lim.MsgMax), MsgMnb: int(lim.MsgMnb),
			MsgMni: int(lim.MsgMni), MsgSSZ: int(lim.MsgSSZ), MsgTQL: int(lim.MsgTQL), MsgSeg: int(lim.MsgSeg),
			UsedQueues: int(use.MsgPool), Messages: int(use.MsgMap), Bytes: int(use.MsgTQL),
			MaxIdx: maxIdx,
		}.Text(), nil
	default:
		lim, use, maxIdx, err := ns.SemInfo(c)
		if err != nil {
			return "", err
		}
		return nsmodel.SemInfo{
			SemMap: int(lim.SemMap), SemMni: int(lim.SemMni), SemMns: int(lim.SemMns), SemMnu: int(lim.SemMnu),
			SemMsl: int(lim.SemMsl), SemOpm: int(lim.SemOpm), SemUme: int(lim.SemUme), SemUsz: int(lim.SemUsz),
			SemVmx: int(lim.SemVmx), SemAem: int(lim.SemAem),
			UsedSets: int(use.SemUsz), UsedSems: int(use.SemAem),
			MaxIdx: maxIdx,
		}.Text(), nil
	}
}
