#!/bin/sh
# containers.sh: two "containers" share one shmfs mount, and each sees
# only its own System V IPC namespace in it.
#
# Run as root from anywhere:  sh examples/containers.sh
#
# It mounts shmfs with --isolate on a temporary directory, starts two
# containers with unshare --ipc --mount --pid --fork (a kernel IPC, mount
# and pid namespace each), lets both write the same key through
# MOUNT/self, shows that each reads back only its own data, that one
# cannot reach the other, and that the real ipcs inside each lists only
# its own objects; then it shows the host's view of both, ends the
# containers and shows their namespaces gone. Everything it made is
# removed when it exits, whether it succeeded or not.
#
# Its files go in a directory of its own under $TMPDIR (else /tmp).
# shmfs is taken from $SHMFS, else from PATH, else built from this
# repository with go.
set -eu

say() { printf '\n== %s\n' "$*"; }
die() { printf 'containers.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (I mount a file system and make namespaces)"
for tool in unshare mount umount ipcs mktemp; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shmfs-containers.XXXXXX")
MNT=$WORK/mnt
PIDS=
cleanup() {
	status=$?
	trap - EXIT INT TERM
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	if grep -q " $MNT " /proc/mounts 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	if [ "$status" != 0 ] && [ -s "$WORK/shmfs.log" ]; then
		printf 'containers.sh: the server log:\n' >&2
		cat "$WORK/shmfs.log" >&2
	fi
	rm -rf "$WORK"
	[ "$status" = 0 ] || printf 'containers.sh: failed (status %s); cleaned up\n' "$status" >&2
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SHMFS=${SHMFS:-$(command -v shmfs || true)}
if [ -z "$SHMFS" ]; then
	command -v go >/dev/null || die "no shmfs on PATH and no go to build it (set SHMFS=/path/to/shmfs)"
	REPO=$(cd "$(dirname "$0")/.." && pwd)
	say "building shmfs from $REPO"
	(cd "$REPO" && go build -o "$WORK/shmfs" ./cmd/shmfs)
	SHMFS=$WORK/shmfs
fi

# waitfile FILE PID: wait (at most 20 s) for FILE, while PID lives.
waitfile() {
	i=0
	while [ ! -e "$1" ]; do
		kill -0 "$2" 2>/dev/null || die "container (pid $2) ended early"
		i=$((i + 1))
		[ "$i" -le 200 ] || die "no $1 after 20 s"
		sleep 0.1
	done
}

# The containers' program. $1 is the container's name, $2 the other's.
CONTAINER='
set -eu
name=$1 other=$2 mnt=$3 work=$4
say() { printf "[%s] %s\n" "$name" "$*"; }
ns=$(readlink "$mnt/self")
say "I am pid $$ in my pid namespace; $mnt/self -> $ns"
printf "%s was here" "$name" > "$mnt/self/shm/0x00001234"
say "wrote key 0x00001234, read back: $(cat "$mnt/self/shm/0x00001234")"
say "ls $mnt: $(ls "$mnt" | tr "\n" " ")"
# My own mount namespace: my tables become the /proc/sysvipc that ipcs reads.
for t in shm msg sem; do mount --bind "$mnt/self/sysvipc/$t" "/proc/sysvipc/$t"; done
say "ipcs -m:"
ipcs -m | sed "s/^/[$name]     /"
if echo 1000000 2>/dev/null > "$mnt/self/limits/shmmni"; then
	say "raised my own shmmni: isolation is broken"; exit 1
fi
say "my limits are my quota: echo > limits/shmmni: Permission denied"
if [ -e "$work/$other.ns" ]; then
	theirs=$(cat "$work/$other.ns")
	for path in "$mnt/$theirs/shm/0x00001234" "$mnt/self/../$theirs" "$mnt/default"; do
		if cat "$path" >/dev/null 2>&1 || ls "$path" >/dev/null 2>&1; then
			say "reached $path: isolation is broken"; exit 1
		fi
		say "cannot reach $path: $(ls "$path" 2>&1 | sed "s/.*: //")"
	done
fi
echo "$ns" > "$work/$name.ns.tmp" && mv "$work/$name.ns.tmp" "$work/$name.ns"
i=0
while [ ! -e "$work/$name.go" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
say "exiting"
'

say "mounting shmfs with --isolate on $MNT"
mkdir "$MNT"
"$SHMFS" mount --isolate --background --log "$WORK/shmfs.log" "$MNT"
echo "\$ ls $MNT"
ls "$MNT"

for c in A B; do
	other=B
	[ "$c" = B ] && other=A
	say "starting container $c: unshare --ipc --mount --pid --fork --mount-proc"
	unshare --ipc --mount --pid --fork --mount-proc --kill-child \
		sh -c "$CONTAINER" container "$c" "$other" "$MNT" "$WORK" &
	pid=$!
	PIDS="$PIDS $pid"
	waitfile "$WORK/$c.ns" "$pid"
done

say "the host's view (root in the initial namespaces sees every namespace)"
echo "\$ ls $MNT"
ls "$MNT"
for c in A B; do
	ns=$(cat "$WORK/$c.ns")
	echo "\$ cat $MNT/$ns/shm/0x00001234   # container $c"
	cat "$MNT/$ns/shm/0x00001234"
	echo
	echo "\$ cat $MNT/$ns/sysvipc/shm"
	cat "$MNT/$ns/sysvipc/shm"
done
echo "\$ ipcs -m   # the host's own kernel namespace has none of them"
ipcs -m

say "ending both containers"
touch "$WORK/A.go" "$WORK/B.go"
for pid in $PIDS; do
	wait "$pid" || die "a container failed"
done
PIDS=
# A listing ends the namespaces whose last process is gone (otherwise a
# scan every 2 s does).
echo "\$ ls $MNT"
ls "$MNT"
for c in A B; do
	ns=$(cat "$WORK/$c.ns")
	[ ! -e "$MNT/$ns" ] || die "$ns is still there after container $c ended"
done
say "done: each container had its own key 0x00001234, and both went with their containers"
