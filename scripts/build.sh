#!/usr/bin/env bash
# Builds bin/radmfa (go build -o bin/radmfa ./exec) with the version from git.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
go build -ldflags "-X main.version=${version}" -o bin/radmfa ./exec
echo "built bin/radmfa (${version})" >&2
