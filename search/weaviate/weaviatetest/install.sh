#!/bin/sh
# Builds weaviate-server once into the cache, for the tests of
# search/weaviate: `make weaviate` runs this. The build takes minutes, so it
# runs niced and is skipped when the binary is there. CGO_ENABLED=0 gives a
# static binary, as for edgesearch itself.
set -eu
version=${WEAVIATE_VERSION:-v1.35.2}
cache=${EDGESEARCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgesearch}
dir=$cache/weaviate-$version
if [ -x "$dir/weaviate-server" ]; then
	echo "    $dir/weaviate-server is there"
	exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/weaviate-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "    go install github.com/weaviate/weaviate/cmd/weaviate-server@$version (niced; about 4 minutes on 2 cores)"
GOBIN=$tmp CGO_ENABLED=0 nice -n 10 ${GO:-go} install "github.com/weaviate/weaviate/cmd/weaviate-server@$version"
mkdir -p "$dir"
mv "$tmp/weaviate-server" "$dir/weaviate-server"
echo "    $dir/weaviate-server"
