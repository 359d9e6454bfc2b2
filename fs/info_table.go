package fs

// infoName is <table>/info: the figures of the table's IPC_INFO and
// SHM_INFO/MSG_INFO/SEM_INFO commands as "name value" lines, read-only,
// made at each open as a /proc file is (nsmodel/info.go). The name can
// be no object's: objects are named 0x%08x or private.<id>.
const infoName = "info"

// info renders shm/info, once the attaches that have ended are
// counted (mapwatch.go).
func (d *shmDirNode) info() string {
	d.m.afterReleases() // a close that reached the server first is a detach
	d.m.settle()
	return d.ns.Shm.Info().Text()
}

func (d *msgDirNode) info() string { return d.ns.Msg.Info().Text() }
func (d *semDirNode) info() string { return d.ns.Sem.Info().Text() }
