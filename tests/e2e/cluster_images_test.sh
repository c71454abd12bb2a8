#!/usr/bin/env bash
# Images referenced by their upstream names are pulled through containerd's mirror config from
# the local registry, and run: the names Tekton examples use, short Docker Hub names, and the
# other registries the mirror covers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init

declare -A want
# start NAME IMAGE EXPECTED_LOG_LINE SCRIPT: all pods start at once, then are checked in order.
start() {
    run_pod "$1" "$2" "$4"
    want[$1]=$3
}
start alpine mirror.gcr.io/alpine alpine-ok 'echo alpine-ok'
start bash mirror.gcr.io/bash bash-5 'bash -c "echo bash-\${BASH_VERSINFO[0]}"'
start short-name alpine:3 short-ok 'echo short-ok'
start docker-hub docker.io/library/ubuntu:latest hub-ok 'echo hub-ok'
start chainguard cgr.dev/chainguard/busybox cgr-ok 'echo cgr-ok'
start ghcr ghcr.io/tektoncd/plumbing/alpine-git-nonroot 'git version' 'git --version | cut -d" " -f1,2'
start python mirror.gcr.io/python py-ok 'python3 -c "print(\"py-ok\")"'
start node mirror.gcr.io/node:lts-alpine3.20 node-ok 'node -e "console.log(\"node-ok\")"'
start perl mirror.gcr.io/perl perl-ok 'perl -le "print q(perl-ok)"'
# Pods can read (not write) the same images from the node IP, e.g. to resolve an entrypoint.
start registry-from-pod mirror.gcr.io/busybox '"latest"' \
    'wget -qO- http://10.240.0.1:5000/v2/mirror.gcr.io/ubuntu/tags/list | grep -o "\"latest\""'
for name in alpine bash short-name docker-hub chainguard ghcr python node perl registry-from-pod; do
    expect_pod_output "images/$name" "$name" 180 "${want[$name]}"
done
