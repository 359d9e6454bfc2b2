package nsmodel

// Pages is the page store of one segment; the backing package provides it.
type Pages interface {
	// Fd is a descriptor of the pages that can be mapped, read and
	// written, and handed to the kernel as a passthrough backing file.
	Fd() int
	// Truncate sets the size; pages past it are freed.
	Truncate(size int64) error
	// Size is the size of the store, which a passthrough write past the
	// end changes without the server.
	Size() int64
	// Resident is how many bytes of pages are allocated.
	Resident() int64
	// Lock pins every page of the first size bytes in memory; Unlock
	// lets them go again.
	Lock(size int64) error
	Unlock() error
	// Close frees the pages once no one else holds the descriptor.
	Close() error
}

// PageFactory makes the page store of a new, empty segment.
type PageFactory func(name string, hugetlb bool) (Pages, error)
