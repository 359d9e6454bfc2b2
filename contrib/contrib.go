// Package contrib holds the files that integrate shmfs with the system,
// embedded so that `shmfs install` writes exactly what is in the
// repository.
package contrib

import _ "embed"

// Unit is shmfs.service, the systemd unit, with /usr/local/bin/shmfs as
// the binary's path.
//
//go:embed shmfs.service
var Unit string

// UnitBinary is the binary's path as Unit names it.
const UnitBinary = "/usr/local/bin/shmfs"
