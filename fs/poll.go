package fs

// Poll events as FUSE_POLL carries them (include/uapi/asm-generic/poll.h;
// x/sys/unix lacks the RDNORM and WRNORM ones).
const (
	pollIn  = 0x1 | 0x40  // POLLIN | POLLRDNORM
	pollOut = 0x4 | 0x100 // POLLOUT | POLLWRNORM
	pollErr = 0x8         // POLLERR
)
