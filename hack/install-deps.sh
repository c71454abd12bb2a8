#!/usr/bin/env bash
# Install the Debian packages a fresh machine lacks for building and testing tektite.
# Idempotent: when everything is present it checks and returns in about a second.
set -euo pipefail

PACKAGES=(
    # build
    build-essential pkg-config libuv1-dev libcurl4-openssl-dev libjansson-dev libyaml-dev
    libwebsockets-dev libssl-dev libcmocka-dev
    # lint and fuzz
    clang clang-format cppcheck libclang-rt-14-dev
    # scripts
    jq curl git openssl
    # the image-build walkthrough: hack/demo/maven-mirror.sh resolves the sample app on the host
    maven openjdk-17-jdk-headless
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
