package nsmodel

// Pages is the page store of one segment; the backing package provides it.
type Pages interface {
	// Fd is a descriptor of the pages that can be mapped, read and
	// written, and handed to the kernel as a passthrough backing file.
	Fd() int
	// Truncate sets the size; pages past it are freed.
	Truncate(size int64) error
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
	Size     int64 // bytes, as the segment's shm_segsz
	Resident int64 // bytes of allocated pages, the rss of /proc/sysvipc/shm
}

// PageFactory makes the page store of a new, empty segment.
type PageFactory func(name string, hugetlb bool) (Pages, error)
