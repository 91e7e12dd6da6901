#!/bin/sh
# Puts Debian's promtool (from the `prometheus` package, unpacked, never installed: no daemon is
# started and nothing outside DEST changes) at DEST/promtool. Used by tests/api/test_monitoring.py
# when promtool is not on PATH. Needs apt (and root for `apt-get update` on a fresh machine).
set -eu
dest="${1:?usage: install_promtool.sh DEST}"
[ -x "$dest/promtool" ] && exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download prometheus >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download prometheus >/dev/null
fi
dpkg-deb -x prometheus_*.deb root
mkdir -p "$dest"
cp root/usr/bin/promtool "$dest/promtool.tmp"
mv "$dest/promtool.tmp" "$dest/promtool"
"$dest/promtool" --version >/dev/null
