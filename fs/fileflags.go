package fs

import (
	"context"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// fileFlags carries, for each READ and WRITE being served, the open
// file's flags as the kernel sent them with the request. go-fuse's file
// API drops them, and they are how an fcntl(F_SETFL, O_NONBLOCK) made
// after open reaches the server. A request is known by its cancel
// channel, which go-fuse makes per request and hands on in fuse.Context.
var fileFlags sync.Map // <-chan struct{} → uint32

// nonblocking reports whether the file a read or write is made through
// is in non-blocking mode now; opened says whether it was opened so,
// for a request that carries no flags.
func nonblocking(ctx context.Context, opened bool) bool {
	if c, ok := ctx.(*fuse.Context); ok {
		if v, ok := fileFlags.Load(c.Cancel); ok {
			return v.(uint32)&syscall.O_NONBLOCK != 0
		}
	}
	return opened
}
