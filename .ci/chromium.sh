#!/bin/sh
# Installs Debian's chromium for the dashboard's browser tests
# (internal/web, EXSWEEP_CHROMIUM) and prints the variable to export:
#   eval "$(.ci/chromium.sh)"
set -eu
if ! command -v chromium >/dev/null 2>&1; then
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
fi
echo "export EXSWEEP_CHROMIUM=$(command -v chromium)"
