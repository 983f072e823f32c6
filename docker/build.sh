#!/usr/bin/env bash
# docker/build.sh — builds Axon's container images (docker/*.Dockerfile) for linux/amd64,
# linux/arm64 and linux/arm/v7 from static binaries cross-compiled here (CGO_ENABLED=0,
# GOARCH/GOARM: no emulation; the images hold only files, nothing runs at build time).
#
#   docker/build.sh                      every image, every architecture
#   ARCHES=amd64 docker/build.sh         only some architectures (amd64, arm64, arm-v7)
#   IMAGES="monolith tools" docker/build.sh   only some images
#
# Tags: axon/<name>:<version>-<arch> (-amd64, -arm64, -arm-v7), <version> from
# `git describe`; this machine's own architecture also gets axon/<name>:<version> and
# axon/<name>:latest, which docker/docker-compose.yml runs. No multi-arch manifest is made:
# a manifest list lives in a registry (`docker manifest create/push`, `docker buildx
# --push`), and the classic engine (no BuildKit, no containerd image store) cannot hold
# one locally; docs/deployment.md says how to publish one.
# Output: the binaries and build contexts in docker/.build/<arch>/ (ignored by git).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
version=${version//[^A-Za-z0-9_.-]/_}
read -r -a arches <<<"${ARCHES:-amd64 arm64 arm-v7}"
all_images=(monolith client-api sync-api federation-api media-api roomserver key-server server-key-api user-api
  edu-server federation-sender app-service client-api-proxy syncv3-proxy tools)
read -r -a images <<<"${IMAGES:-${all_images[*]}}"

# The binaries the chosen images need: what their Dockerfiles copy from bin/.
read -r -a bins <<<"$(for name in "${images[@]}"; do
  [ -f "$here/$name.Dockerfile" ] || { echo "build.sh: no docker/$name.Dockerfile" >&2; exit 2; }
  grep -oE 'bin/[a-z0-9-]+' "$here/$name.Dockerfile" | sed 's|^bin/||'
done | sort -u | tr '\n' ' ')"

native=$(go env GOARCH)
[ "$native" = arm ] && native=arm-v7
ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  [ -f "$f" ] && { ca=$f; break; }
done
[ -n "$ca" ] || { echo "build.sh: no CA bundle found on this machine (install ca-certificates)" >&2; exit 1; }

say() { printf '== docker/build.sh: %s\n' "$*" >&2; }

for arch in "${arches[@]}"; do
  case $arch in
  amd64) goarch=amd64 goarm="" platform=linux/amd64 ;;
  arm64) goarch=arm64 goarm="" platform=linux/arm64 ;;
  arm-v7) goarch=arm goarm=7 platform=linux/arm/v7 ;;
  *) echo "build.sh: unknown architecture $arch (amd64, arm64, arm-v7)" >&2; exit 2 ;;
  esac
  ctx="$here/.build/$arch"
  rm -rf "$ctx/base" "$ctx/owned"
  mkdir -p "$ctx/bin" "$ctx/base/etc/ssl/certs" "$ctx/owned/data" "$ctx/owned/etc/axon" "$ctx/owned/tmp"
  chmod 1777 "$ctx/owned/tmp"
  printf 'root:x:0:0:root:/:/sbin/nologin\naxon:x:10001:10001:axon:/data:/sbin/nologin\n' >"$ctx/base/etc/passwd"
  printf 'root:x:0:\naxon:x:10001:\n' >"$ctx/base/etc/group"
  cp "$ca" "$ctx/base/etc/ssl/certs/ca-certificates.crt"
  say "compiling for $platform (version $version)"
  pkgs=()
  for b in "${bins[@]}"; do pkgs+=("./cmd/$b"); done
  CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -trimpath \
    -ldflags "-s -w" -o "$ctx/bin/" "${pkgs[@]}"
  for name in "${images[@]}"; do
    tag="axon/$name:$version-$arch"
    # --no-cache: the classic builder would reuse a layer cached for another platform
    # (same files) and then refuse it as the wrong platform; the layers are only COPYs.
    docker build -q --no-cache --platform "$platform" -f "$here/$name.Dockerfile" \
      --label "org.opencontainers.image.version=$version" \
      --label "org.opencontainers.image.source=https://github.com/axon-matrix/axon" \
      -t "$tag" "$ctx" >/dev/null
    if [ "$arch" = "$native" ]; then
      docker tag "$tag" "axon/$name:$version"
      docker tag "$tag" "axon/$name:latest"
    fi
    say "$tag$([ "$arch" = "$native" ] && echo " (also :$version and :latest)")"
  done
done
echo "$version"
