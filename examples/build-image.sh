#!/bin/sh
# Builds berth-examples:latest without the internet: FROM scratch, with this machine's node
# binary, the shared libraries it links, and the examples. Needs docker (or DOCKER=podman).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
docker=${DOCKER:-docker}
node=$(command -v node)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/usr/local/bin" "$ctx/app" "$ctx/tmp" "$ctx/etc"
cp "$node" "$ctx/usr/local/bin/node"
# Every library node loads, and the dynamic loader itself, at the same paths.
ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
  mkdir -p "$ctx$(dirname "$lib")"
  cp -L "$lib" "$ctx$lib"
done
cp -R "$here/web" "$here/worker" "$ctx/app/"
echo 'nobody:x:65534:65534:nobody:/:/usr/sbin/nologin' > "$ctx/etc/passwd"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
ENV PATH=/usr/local/bin
USER 65534
EXPOSE 8080
CMD ["node", "/app/web/server.mjs"]
DOCKERFILE
"$docker" build -q -t berth-examples:latest "$ctx" >/dev/null 2>"$ctx.log" || { cat "$ctx.log" >&2; rm -f "$ctx.log"; exit 1; }
rm -f "$ctx.log"
echo "built berth-examples:latest ($("$docker" image inspect -f '{{.Size}}' berth-examples:latest) bytes)"
