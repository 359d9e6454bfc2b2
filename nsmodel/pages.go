package nsmodel

// Pages is the page store of one segment; the backing package provides it.
type Pages interface {
	// Fd is a descriptor of the pages that can be mapped, read and
	// written, and handed to the kernel as a passthrough backing file.
	Fd() int
	// Truncate sets the size; pages past it are freed. Once the store
	// is sealed it can only shrink (EPERM otherwise).
	Truncate(size int64) error
	// Seal makes the store refuse to grow, by any path: a write past
	// the end, fallocate, ftruncate, the kernel's passthrough included.
	Seal() error
	// Regrow gives a sealed store a larger size: new pages of that size
	// holding the old bytes, sealed in turn, behind the same Fd. Only
	// for a store no other process holds (a mapping or a passthrough
	// file of the old pages would not see the new ones). A pin made by
	// Lock is dropped.
	Regrow(size int64) error
	// Punch frees the pages of [off, off+n): they read as zeros; the
	// size stays.
	Punch(off, n int64) error
	// DataEnd is the offset just past the last byte in [from, limit)
	// that is not zero, or from if there is none: how far a write that
	// the server did not see reached into a zeroed tail.
	DataEnd(from, limit int64) (int64, error)
	// Allocate is fallocate(2) with mode on the store.
	Allocate(mode uint32, off, n int64) error
	// Stat reports, from one look at the store, its size (which a
	// passthrough write past the end changes without the server) and
	// how many bytes of pages are allocated.
	Stat() (PageUsage, error)
	// Lock pins every page of the first size bytes in memory; Unlock
	// lets them go again.
	Lock(size int64) error
	Unlock() error
	// Close frees the pages once no one else holds the descriptor.
	Close() error
}

// PageUsage is what Pages.Stat reports.
type PageUsage struct {
	Size     int64 // bytes of the store (its capacity, at least shm_segsz)
	Resident int64 // bytes of allocated pages, the rss of /proc/sysvipc/shm
}

// PageFactory makes the page store of a new, empty segment.
type PageFactory func(name string, hugetlb bool) (Pages, error)
