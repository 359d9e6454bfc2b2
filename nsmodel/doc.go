// Package nsmodel is the model of System V IPC namespaces that shmfs serves:
// id tables, key lookup, id allocation, ipc_perm checks, limits, the three
// object kinds and their /proc/sysvipc renderings. It knows nothing of FUSE;
// the fs package translates file operations into calls on it.
//
// Errors are unix.Errno values, chosen as the kernel's ipc/ code would
// choose them for the same request, and a refused request changes nothing.
// The package's tests compare ids, shmget errnos, ipcperms, the IPC_SET,
// IPC_RMID and SHM_LOCK rules, the limit files and /proc/sysvipc/shm with
// the running kernel, in a private IPC namespace.
//
// Where a segment is a file, it does what a file can and a kernel segment
// cannot, and these choices are the model's, not the kernel's:
//
//   - open(O_CREAT) makes a segment of size 0 (ShmGet.AllowEmpty), which
//     ftruncate sizes later; shmget itself still wants at least 1 byte.
//   - ftruncate resizes a segment: past shmmax is EINVAL, growth in pages
//     past shmall is ENOSPC, shrinking is always allowed.
//   - A segment's pages are sealed against growth once it has a size, so
//     that FUSE passthrough, which writes to them without the server,
//     cannot take a segment past its quota. Growing a segment that an
//     attach holds is EPERM; one no one holds gets new pages. A segment
//     shrunk while attached keeps its pages (counted against shmall)
//     until its last detach. (ShmTable.resize states the rule.)
//   - Between open(O_CREAT) and its first size a segment's pages are not
//     sealed: a passthrough write there is taken in as its size at the
//     model's next look, or cut back if over the limits.
//   - fallocate reaches the pages within the same limits; ZERO_RANGE,
//     which shmem lacks, is a punch and an allocation.
//   - SHM_LOCK pins pages by mlock of a server mapping, which faults every
//     page in (rss is the whole size once locked), where the kernel marks
//     the pages unevictable as they come. A locked segment that grows stays
//     pinned, its new pages charged to whoever locked it without a second
//     RLIMIT_MEMLOCK check. Pinned pages are counted per caller uid across
//     the model, where the kernel counts them per real uid system-wide.
//   - The swap column of sysvipc/shm is always 0.
//   - A limit write that the kernel would apply in part (sem "1 2 3 4x"
//     stores 1 2 3, then fails) is refused whole.
//   - A namespace is removed only when all three tables are empty; a create
//     racing with the removal fails with ENOENT, as a create in a removed
//     directory does.
//   - Capabilities count only for callers in the server's user namespace,
//     which owns every shmfs namespace.
package nsmodel
