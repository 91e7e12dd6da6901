#!/bin/sh
# Installs Debian's chromium for the browser test (tests/api/test_browser.py runs this when
# /usr/bin/chromium is missing). Needs root and apt; playwright drives this binary through
# executable_path, so `playwright install` (a browser download) is never needed.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
