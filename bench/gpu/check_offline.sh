#!/usr/bin/env bash
# Checks bench/gpu/run.sh here the way the GPU machine runs it: in a temp
# folder holding only what the device tool sends (tracked and untracked,
# not-ignored files, plus the carried .gl/ .deno-bin/ .gpu-carry/), with an
# empty environment and HOME (so no Deno cache), inside a network namespace
# with no network at all (`unshare -n`, root), on whatever adapter is here
# (lavapipe) with `run.sh --tiny`.
#
# Usage: bash bench/gpu/check_offline.sh [run.sh arguments, default: --tiny]
# Leaves the run's $OUT in the folder it prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in .gl .deno-bin .gpu-carry; do
  [ -e "$d" ] || { echo "check_offline: $d missing: run bench/gpu/prepare.sh first" >&2; exit 1; }
done
T=$(mktemp -d /tmp/latent-offline.XXXXXX)
mkdir -p "$T/repo" "$T/home" "$T/out"
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$T/repo"
cp -a .gl .deno-bin .gpu-carry "$T/repo/"
echo "check_offline: tree $(du -sh "$T/repo" | cut -f1) in $T/repo (device limit: 64 MiB)" >&2
[ $# -eq 0 ] && set -- --tiny
rc=0
env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$T/home" OUT="$T/out" \
  unshare -n bash "$T/repo/bench/gpu/run.sh" "$@" || rc=$?
echo "check_offline: run.sh exited $rc; its files:" >&2
(cd "$T/out" && find . -type f -exec ls -l {} + >&2)
exit $rc
