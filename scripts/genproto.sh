#!/usr/bin/env bash
# Regenerates the plugin protocol's Go code (plugin/internal/pb) from
# plugin/internal/pb/notifier.proto. Only needed after editing the .proto:
# the generated code is committed, so builds and CI never need protoc.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and the Go
# generators at the versions below, which it installs with go install.
set -euo pipefail
cd "$(dirname "$0")/.."

protoc_gen_go=v1.36.11      # google.golang.org/protobuf/cmd/protoc-gen-go
protoc_gen_go_grpc=v1.6.1   # google.golang.org/grpc/cmd/protoc-gen-go-grpc

if ! command -v protoc >/dev/null 2>&1; then
	echo "genproto: protoc not found (apt-get install protobuf-compiler)" >&2
	exit 1
fi
bin=$(go env GOPATH)/bin
GOFLAGS= go install "google.golang.org/protobuf/cmd/protoc-gen-go@${protoc_gen_go}"
GOFLAGS= go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${protoc_gen_go_grpc}"

protoc \
	--plugin=protoc-gen-go="${bin}/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="${bin}/protoc-gen-go-grpc" \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	plugin/internal/pb/notifier.proto
echo "genproto: regenerated plugin/internal/pb ($(protoc --version))" >&2
