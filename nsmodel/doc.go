// Package nsmodel is the model of System V IPC namespaces that shmfs serves:
// id tables, key lookup, id allocation, ipc_perm checks, limits, the three
// object kinds and their /proc/sysvipc renderings. It knows nothing of FUSE;
// the fs package translates file operations into calls on it.
//
// Errors are unix.Errno values, chosen as the kernel's ipc/ code would
// choose them for the same request.
package nsmodel
