package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// version is the release this binary is, when the build says so:
// go build -ldflags "-X main.version=1.2.0" ./cmd/shmfs. Otherwise the
// module version from the build information ("(devel)" in a checkout).
var version string

// revision is the VCS revision, when the build says so (-X
// main.revision=...): go records it itself only when it builds in a git
// checkout with -buildvcs on, and not in a git worktree.
var revision string

// versionText is what shmfs --version prints: the version and the VCS
// revision the build recorded, the Go that built it, and whether this
// kernel offers FUSE passthrough.
func versionText() string {
	v, rev := buildVersion()
	var b strings.Builder
	fmt.Fprintf(&b, "shmfs %s\n", v)
	if rev == "" {
		rev = "unknown (not recorded: build in a git checkout with -buildvcs=true, or with -ldflags \"-X main.revision=...\")"
	}
	fmt.Fprintf(&b, "revision: %s\n", rev)
	fmt.Fprintf(&b, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	release := kernelRelease()
	ok, why := passthroughOffered(release, kernelConfig(release))
	yes := "no"
	if ok {
		yes = "yes"
	}
	fmt.Fprintf(&b, "kernel: %s; FUSE passthrough: %s (%s)\n", release, yes, why)
	return b.String()
}

// buildVersion is the version and the revision ("abc123…, modified,
// 2026-11-29T21:00:00Z") from the build information.
func buildVersion() (v, rev string) {
	v = version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if v == "" {
			v = "(unknown)"
		}
		return v, revision
	}
	if v == "" {
		v = bi.Main.Version
	}
	var when string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision != "" {
		return v, revision
	}
	if rev != "" {
		if modified {
			rev += ", modified"
		}
		if when != "" {
			rev += ", " + when
		}
	}
	return v, rev
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelConfig is the running kernel's build configuration, from
// /proc/config.gz or /boot/config-RELEASE, or nil if neither is readable.
func kernelConfig(release string) map[string]string {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			r = z
		}
	}
	if r == nil {
		f, err := os.Open("/boot/config-" + release)
		if err != nil {
			return nil
		}
		defer f.Close()
		r = f
	}
	cfg := make(map[string]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_FUSE") {
			cfg[k] = v
		}
	}
	return cfg
}

// passthroughOffered says whether a kernel of this release and
// configuration offers FUSE passthrough (Linux 6.9 and later, built with
// CONFIG_FUSE_PASSTHROUGH), and why. A server also needs CAP_SYS_ADMIN
// to use it; the ready line of shmfs mount says what it got.
func passthroughOffered(release string, cfg map[string]string) (bool, string) {
	major, minor, ok := parseRelease(release)
	if !ok {
		return false, "cannot read the kernel version"
	}
	if major < 6 || major == 6 && minor < 9 {
		return false, "it needs Linux 6.9 or later"
	}
	if cfg == nil {
		return true, "Linux 6.9 or later; kernel config not readable, so not checked for CONFIG_FUSE_PASSTHROUGH"
	}
	if cfg["CONFIG_FUSE_PASSTHROUGH"] != "y" {
		return false, "the kernel is built without CONFIG_FUSE_PASSTHROUGH"
	}
	return true, "CONFIG_FUSE_PASSTHROUGH=y; used by a server running as root"
}

func parseRelease(release string) (major, minor int, ok bool) {
	f := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(f[1])
	return major, minor, err1 == nil && err2 == nil
}
