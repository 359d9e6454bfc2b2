package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// infoName is <table>/info: the figures of the table's IPC_INFO and
// SHM_INFO/MSG_INFO/SEM_INFO commands as "name value" lines, read-only,
// made at each open as a /proc file is (nsmodel/info.go). The name can
// be no object's: objects are named 0x%08x or private.<id>.
const infoName = "info"

// addInfo makes the info file of the table directory dir.
func addInfo(ctx context.Context, dir *gofs.Inode, render func() string) {
	dir.AddChild(infoName, dir.NewPersistentInode(ctx, &textNode{render: render}, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
}

// lookupInfo answers the lookup of info in dir: like ctl, its
// attributes never change.
func lookupInfo(dir *gofs.Inode, out *fuse.EntryOut) *gofs.Inode {
	fixedAttr(&out.Attr, syscall.S_IFREG|0o444)
	out.SetEntryTimeout(fixedTimeout)
	out.SetAttrTimeout(fixedTimeout)
	return dir.GetChild(infoName)
}

// infoEntry is info as a table's listing shows it.
var infoEntry = fuse.DirEntry{Name: infoName, Mode: syscall.S_IFREG}

// shmInfo renders shm/info, once the attaches that have ended are
// counted (mapwatch.go).
func (d *shmDirNode) info() string {
	d.m.settle()
	return d.ns.Shm.Info().Text()
}

func (d *msgDirNode) info() string { return d.ns.Msg.Info().Text() }
func (d *semDirNode) info() string { return d.ns.Sem.Info().Text() }
