#!/bin/sh
# kernel.sh: the host browses two containers' System V objects through
# MOUNT/kernel/, the kernel's own IPC namespaces.
#
# Run as root from anywhere:  sh examples/kernel.sh
#
# It mounts shmfs on a temporary directory, starts two "containers" with
# unshare --ipc (a kernel IPC namespace each), each running the
# unmodified System V program examples/kernel_tenant.c (shmget, shmat,
# semop; the same key in both), and then, from the host and through files
# only: lists the namespaces, reads each container's segment, writes a
# reply into it, signals its semaphore with a semop written to the set's
# file (the program wakes and prints the reply), compares sysvipc/ with
# ipcs run inside the container, tells both to quit and shows their
# namespaces gone. Everything it made is removed when it exits.
#
# shmfs is taken from $SHMFS, else from PATH, else built from this
# repository with go; the tenant is compiled with cc.
set -eu

say() { printf '\n== %s\n' "$*"; }
run() { printf '# %s\n' "$*"; sh -c "$*"; }
die() { printf 'kernel.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (I mount a file system and make namespaces)"
for tool in unshare nsenter ipcs cc mktemp dd; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/shmfs-kernel.XXXXXX)
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
		"$SHMFS" umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	[ "$status" = 0 ] || printf 'kernel.sh: failed (status %s); cleaned up\n' "$status" >&2
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SHMFS=${SHMFS:-$(command -v shmfs || true)}
if [ -z "$SHMFS" ]; then
	command -v go >/dev/null || die "no shmfs on PATH and no go to build it (set SHMFS=/path/to/shmfs)"
	say "building shmfs from $HERE/.."
	(cd "$HERE/.." && go build -o "$WORK/shmfs" ./cmd/shmfs)
	SHMFS=$WORK/shmfs
fi
cc -O2 -o "$WORK/kernel_tenant" "$HERE/kernel_tenant.c"

mkdir "$MNT"
"$SHMFS" mount --background "$MNT" >/dev/null
KEY=0x00005eed

# start NAME: a container running the tenant; sets PID_<NAME>.
start() {
	unshare --ipc "$WORK/kernel_tenant" "$1" $KEY >"$WORK/$1.out" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	eval "PID_$1=$pid"
	i=0
	until grep -q ready "$WORK/$1.out"; do
		kill -0 "$pid" 2>/dev/null || die "container $1 ended: $(cat "$WORK/$1.out")"
		i=$((i + 1))
		[ "$i" -le 200 ] || die "container $1: no ready line after 20 s"
		sleep 0.1
	done
}
start alpha
start beta

nsof() { basename "$(readlink /proc/"$1"/ns/ipc | tr -d 'ipc:[]' | sed 's/^/ipc-/')"; }
NS_alpha=$(nsof "$PID_alpha")
NS_beta=$(nsof "$PID_beta")

say "the kernel's IPC namespaces with a live process: the host's and the two containers'"
run "ls $MNT/kernel/"
say "the same key in each container, each its own segment"
for c in alpha beta; do
	eval "ns=\$NS_$c"
	run "ls -l $MNT/kernel/$ns/shm/"
	run "tr -d '\\000' < $MNT/kernel/$ns/shm/$KEY; echo"
done

say "the host writes into alpha's segment and signals its semaphore (one semop)"
run "printf 'hello alpha, this is the host' | dd of=$MNT/kernel/$NS_alpha/shm/$KEY conv=notrunc status=none"
run "echo '0 1' > $MNT/kernel/$NS_alpha/sem/$KEY"
i=0
until grep -q signalled "$WORK/alpha.out"; do
	i=$((i + 1)); [ "$i" -le 100 ] || die "alpha was not woken"; sleep 0.1
done
cat "$WORK/alpha.out"

say "sysvipc/ is the namespace's own /proc/sysvipc; ipcs inside beta agrees"
run "cat $MNT/kernel/$NS_beta/sysvipc/shm"
run "nsenter -t $PID_beta --ipc ipcs -m"

say "both are told to quit; their namespaces go with their last process"
for c in alpha beta; do
	eval "ns=\$NS_$c"
	printf 'quit' | dd of="$MNT/kernel/$ns/shm/$KEY" conv=notrunc status=none
	echo '0 1' > "$MNT/kernel/$ns/sem/$KEY"
done
for pid in $PIDS; do wait "$pid"; done
PIDS=
sleep 1
run "ls $MNT/kernel/"
say "done"
