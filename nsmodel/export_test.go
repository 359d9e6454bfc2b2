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
