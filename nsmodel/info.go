package nsmodel

import (
	"fmt"
	"strings"
)

// The figures of shmctl(IPC_INFO, SHM_INFO), msgctl(IPC_INFO, MSG_INFO)
// and semctl(IPC_INFO, SEM_INFO), which `ipcs -l` and `ipcs -u` print,
// and their rendering as the read-only file <table>/info.

// Compile-time constants of the uapi headers that the *_INFO commands
// report (linux/shm.h, msg.h, sem.h): most are historical and limit
// nothing.
const (
	ShmMin = 1 // SHMMIN

	msgMNIDefault = 32000
	msgMNBDefault = 16384
	MsgPool       = msgMNIDefault * msgMNBDefault / 1024 // MSGPOOL
	MsgTQL        = msgMNBDefault                        // MSGTQL
	MsgMap        = msgMNBDefault                        // MSGMAP
	MsgSSZ        = 16                                   // MSGSSZ
	MsgSeg        = 0xffff                               // MSGSEG, (MSGPOOL*1024)/MSGSSZ capped to an unsigned short

	semMNIDefault = 32000
	semMSLDefault = 32000
	SemMNU        = semMNIDefault * semMSLDefault // SEMMNU = SEMMNS
	SemMap        = SemMNU                        // SEMMAP = SEMMNS
	SemUME        = 500                           // SEMUME = SEMOPM
	SemUSZ        = 20                            // SEMUSZ
)

// maxIdx is what the *_INFO commands return: ipc_get_maxidx, the
// highest index in use, with 0 for an empty table (the kernel turns its
// -1 into 0). r.mu is held.
func (r *Registry) maxIdx() int {
	if r.inUse == 0 {
		return 0
	}
	return len(r.slots) - 1
}

// ShmInfo is what shmctl IPC_INFO (struct shminfo64) and SHM_INFO
// (struct shm_info) report, and the index both return.
type ShmInfo struct {
	// IPC_INFO
	ShmMax, ShmMin, ShmMni, ShmSeg, ShmAll uint64
	// SHM_INFO: used_ids counts segments marked SHM_DEST too; shm_tot
	// is pages of segments (sizes rounded up), shm_rss resident pages.
	UsedIDs                     int
	ShmTot, ShmRss, ShmSwp      uint64
	SwapAttempts, SwapSuccesses uint64
	MaxIdx                      int
}

// Info is shmctl(IPC_INFO) and shmctl(SHM_INFO) at once (shmctl_ipc_info,
// shmctl_shm_info, shm_get_stat). The model's resident pages are the
// memfd's allocated pages, swapped ones included, so shm_rss counts what
// the kernel splits into shm_rss and shm_swp, and shm_swp is 0.
func (t *ShmTable) Info() ShmInfo {
	t.reapExits()
	lim := t.ns.Limits()
	t.mu.Lock()
	defer t.mu.Unlock()
	in := ShmInfo{
		ShmMax: lim.ShmMax, ShmMin: ShmMin,
		ShmMni: uint64(lim.ShmMni), ShmSeg: uint64(lim.ShmMni), ShmAll: lim.ShmAll,
		UsedIDs: t.inUse,
		MaxIdx:  t.maxIdx(),
	}
	for _, o := range t.sorted() {
		in.ShmRss += uint64(t.follow(o.(*Shm)).Resident) / PageSize
	}
	in.ShmTot = t.tot // after follow, which may have moved it
	return in
}

// MsgInfo is what msgctl IPC_INFO and MSG_INFO report in struct
// msginfo, and the index both return. The two commands fill msgpool,
// msgmap and msgtql with different things: IPC_INFO with the constants
// MSGPOOL, MSGMAP and MSGTQL, MSG_INFO with the queues in use, the
// messages queued and the bytes queued in the namespace.
type MsgInfo struct {
	// IPC_INFO
	MsgPool, MsgMap, MsgMax, MsgMnb, MsgMni, MsgSSZ, MsgTQL, MsgSeg int
	// MSG_INFO's msgpool, msgmap and msgtql
	UsedQueues, Messages, Bytes int
	MaxIdx                      int
}

// Info is msgctl(IPC_INFO) and msgctl(MSG_INFO) at once (msgctl_info).
// Messages and bytes are the sums the kernel keeps in percpu_msg_hdrs and
// percpu_msg_bytes (capped at INT_MAX as it caps them): a message handed
// straight to a waiting receiver is never counted. Lock order: t.mu,
// then each queue's.
func (t *MsgTable) Info() MsgInfo {
	lim := t.ns.Limits()
	t.mu.Lock()
	defer t.mu.Unlock()
	in := MsgInfo{
		MsgPool: MsgPool, MsgMap: MsgMap, MsgMax: lim.MsgMax, MsgMnb: lim.MsgMnb,
		MsgMni: lim.MsgMni, MsgSSZ: MsgSSZ, MsgTQL: MsgTQL, MsgSeg: MsgSeg,
		UsedQueues: t.inUse,
		MaxIdx:     t.maxIdx(),
	}
	var msgs, bytes uint64
	for _, o := range t.sorted() {
		q := o.(*Msg)
		q.mu.Lock()
		msgs += uint64(q.messages.len())
		bytes += q.cbytes
		q.mu.Unlock()
	}
	in.Messages = int(min(msgs, 1<<31-1))
	in.Bytes = int(min(bytes, 1<<31-1))
	return in
}

// SemInfo is what semctl IPC_INFO and SEM_INFO report in struct
// seminfo, and the index both return. SEM_INFO fills semusz and semaem
// with the sets in use and the semaphores in them, where IPC_INFO has the
// constants SEMUSZ and SEMAEM.
type SemInfo struct {
	// IPC_INFO
	SemMap, SemMni, SemMns, SemMnu, SemMsl, SemOpm, SemUme, SemUsz, SemVmx, SemAem int
	// SEM_INFO's semusz and semaem
	UsedSets, UsedSems int
	MaxIdx             int
}

// Info is semctl(IPC_INFO) and semctl(SEM_INFO) at once (semctl_info).
func (t *SemTable) Info() SemInfo {
	lim := t.ns.Limits()
	t.mu.Lock()
	defer t.mu.Unlock()
	return SemInfo{
		SemMap: SemMap, SemMni: lim.SemMni, SemMns: lim.SemMns, SemMnu: SemMNU,
		SemMsl: lim.SemMsl, SemOpm: lim.SemOpm, SemUme: SemUME, SemUsz: SemUSZ,
		SemVmx: SemVMX, SemAem: SemAEM,
		UsedSets: t.inUse, UsedSems: t.used,
		MaxIdx: t.maxIdx(),
	}
}

// infoText renders name value lines.
func infoText(lines ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(lines); i += 2 {
		fmt.Fprintf(&b, "%s %d\n", lines[i], lines[i+1])
	}
	return b.String()
}

// Text renders the figures as shm/info shows them: the fields of struct
// shminfo (IPC_INFO), then those of struct shm_info (SHM_INFO), in the
// structs' order, then max_idx, the value both commands return.
func (in ShmInfo) Text() string {
	return infoText(
		"shmmax", in.ShmMax, "shmmin", in.ShmMin, "shmmni", in.ShmMni, "shmseg", in.ShmSeg, "shmall", in.ShmAll,
		"used_ids", in.UsedIDs, "shm_tot", in.ShmTot, "shm_rss", in.ShmRss, "shm_swp", in.ShmSwp,
		"swap_attempts", in.SwapAttempts, "swap_successes", in.SwapSuccesses,
		"max_idx", in.MaxIdx)
}

// Text renders the figures as msg/info shows them: struct msginfo as
// IPC_INFO fills it, in the struct's order; then the three fields that
// MSG_INFO fills differently, named after the command (msg_info.msgpool,
// msg_info.msgmap, msg_info.msgtql), so that a name means one thing; then
// max_idx.
func (in MsgInfo) Text() string {
	return infoText(
		"msgpool", in.MsgPool, "msgmap", in.MsgMap, "msgmax", in.MsgMax, "msgmnb", in.MsgMnb,
		"msgmni", in.MsgMni, "msgssz", in.MsgSSZ, "msgtql", in.MsgTQL, "msgseg", in.MsgSeg,
		"msg_info.msgpool", in.UsedQueues, "msg_info.msgmap", in.Messages, "msg_info.msgtql", in.Bytes,
		"max_idx", in.MaxIdx)
}

// Text renders the figures as sem/info shows them: struct seminfo as
// IPC_INFO fills it; then sem_info.semusz and sem_info.semaem as SEM_INFO
// fills them; then max_idx.
func (in SemInfo) Text() string {
	return infoText(
		"semmap", in.SemMap, "semmni", in.SemMni, "semmns", in.SemMns, "semmnu", in.SemMnu,
		"semmsl", in.SemMsl, "semopm", in.SemOpm, "semume", in.SemUme, "semusz", in.SemUsz,
		"semvmx", in.SemVmx, "semaem", in.SemAem,
		"sem_info.semusz", in.UsedSets, "sem_info.semaem", in.UsedSems,
		"max_idx", in.MaxIdx)
}
