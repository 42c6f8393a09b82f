#!/bin/sh
# Builds the archive of the Yandex Cloud Functions deployment
# (docs/yandex-cloud-functions.md): a ZIP whose root is a small Go module,
#
#   index.go           package main, the entry point index.Handler
#                      (a copy of deploy/ycf/function/index.go)
#   go.mod, go.sum     module tracker-exporter-function, no go line, this
#                      repository's requirements and checksums; its module
#                      is required through a replace directive pointing at
#   tracker-exporter/  the sources of every package the handler needs (no
#                      tests), with this repository's go.mod and go.sum
#   vendor/            with VENDOR=1 only: every dependency's sources
#
# The Go runtime builds that module itself; nothing here is compiled.
#
# usage: deploy/ycf/build.sh [OUT.zip]    (default ./tracker-exporter-ycf.zip)
# needs: go (the version of go.mod), zip or python3, and the dependencies
#        in the module cache (after `go build ./...`) or the module proxy.
# env:   VENDOR=1        add vendor/ (the builder downloads nothing)
#        KEEP_GO_LINE=1  keep the go line in the root go.mod (see the guide)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-tracker-exporter-ycf.zip}
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
src=$work/tracker-exporter
mkdir -p "$src"
export GOWORK=off

cd "$root"
module=$(go list -m)
cp go.mod go.sum "$src/"
# Every package of this module that the entry point imports, directly or
# not, for the function's platform: its non-test Go files (all of them,
# whatever their build constraints) and the files it embeds.
GOOS=linux GOARCH=amd64 go list -deps \
	-f '{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}' \
	./deploy/ycf/function |
	while read -r dir embeds; do
		rel=${dir#"$root"/}
		[ "$rel" = deploy/ycf/function ] && continue # the root index.go instead
		mkdir -p "$src/$rel"
		for f in "$dir"/*.go; do
			case $f in
			*_test.go) ;;
			*) cp "$f" "$src/$rel/" ;;
			esac
		done
		for e in $embeds; do
			mkdir -p "$src/$rel/$(dirname "$e")"
			cp "$dir/$e" "$src/$rel/$e"
		done
	done

cp deploy/ycf/function/index.go "$work/index.go"
# The root module requires what this repository requires, at the same
# versions and with the same checksums, plus this repository's module.
cp go.mod go.sum "$work/"
cd "$work"
go mod edit -module tracker-exporter-function \
	-require="$module@v0.0.0" -replace="$module=./tracker-exporter"
go list -deps . >/dev/null # every import resolves (from the module cache or the proxy)
if [ "${VENDOR:-}" = 1 ]; then
	go mod vendor
fi
# The runtime wants no go line in the root go.mod: its builder adds the one
# of its own Go version, which must be at least this repository's.
if [ "${KEEP_GO_LINE:-}" != 1 ]; then
	go mod edit -go=none -toolchain=none
fi

rm -f "$out"
if command -v zip >/dev/null 2>&1; then
	zip -qr -X "$out" .
else
	python3 -m zipfile -c "$out" $(ls -A)
fi
echo "$out"
