#!/usr/bin/env bash
# Runs every check: installs what the tests need (scripts/deps.sh), then
# gofmt, go vet, staticcheck and all tests, including the end-to-end tests
# against real FreeRADIUS. With CI=true a missing dependency fails the run
# instead of skipping a test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go tool staticcheck ./...

echo "== go test"
go test -race -count=1 ./...
echo "== all checks passed"
