package nsmodel

import (
	"fmt"
	"strings"
)

// The headers of /proc/sysvipc/*, byte for byte.
const (
	shmHeader = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"
	msgHeader = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n"
	semHeader = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
)

// SysvipcShm renders the table as /proc/sysvipc/shm does.
func (t *ShmTable) SysvipcShm() string {
	var b strings.Builder
	b.WriteString(shmHeader)
	for _, s := range t.Stats() {
		writeShmRow(&b, &s)
	}
	return b.String()
}

// writeShmRow is sysvipc_shm_proc_show on a 64-bit kernel: key as signed
// decimal, mode in octal with the SHM_DEST and SHM_LOCKED bits, rss in
// bytes. Swap is always 0: the server cannot see which memfd pages are
// swapped out.
func writeShmRow(b *strings.Builder, s *ShmStat) {
	fmt.Fprintf(b, "%10d %10d  %4o %21d %5d %5d  %5d %5d %5d %5d %5d %10d %10d %10d %21d %21d\n",
		s.Key, s.ID, s.Mode, s.Size, uint32(s.CPID), uint32(s.LPID), s.Nattch,
		s.UID, s.GID, s.CUID, s.CGID, uint64(s.Atime), uint64(s.Dtime), uint64(s.Ctime),
		uint64(s.Resident), 0)
}
