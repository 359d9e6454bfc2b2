package nsmodel

import "strings"

// Internals that the black-box tests compare with the kernel.
var (
	ShmHeader = shmHeader
	MsgHeader = msgHeader
	SemHeader = semHeader

	InPrivateIPC = inPrivateIPC
)

// ShmRow renders one row of /proc/sysvipc/shm.
func ShmRow(s *ShmStat) string {
	var b strings.Builder
	writeShmRow(&b, s)
	return b.String()
}

// IDOf is the id of an object, which a test reads where nothing else
// runs; outside tests an id is read from a snapshot.
func IDOf(o Object) int32 { return o.ipcPerm().ID }
