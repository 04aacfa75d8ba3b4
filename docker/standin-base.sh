#!/bin/sh
# A stand-in for python:3.11-slim-bookworm, made from Debian's archive where the registry cannot be reached:
#   docker/standin-base.sh [TAG]        (root; needs debootstrap and a running dockerd)
# The result has what the Dockerfile's FROM line relies on: Python 3.11 as `python` with venv and pip, apt
# pointed at Debian's archive, and this machine's CA bundle (the one its own pip and curl trust), so pip
# inside a build verifies PyPI through a TLS-intercepting proxy exactly as pip on the host does.
set -eu
TAG="${1:-genai-standin/python:3.11-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
ROOTFS="$(mktemp -d /tmp/genai-standin.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >&2
# The machine's bundle replaces the image's own: it holds Debian's roots plus whatever the network adds.
cp "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
# pip inside a venv reads certifi's bundle unless told otherwise: point every pip in the image at the system one.
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOTFS/etc/pip.conf"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' - "$TAG" >/dev/null
echo "$TAG"
