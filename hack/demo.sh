#!/usr/bin/env bash
# demo.sh (make demo): the image-build walkthrough end to end, as a Tekton user runs it.
#   1. dependencies and the local cluster (hack/install-deps.sh, hack/cluster-up.sh)
#   2. tektite built and deployed in the cluster like Tekton (hack/deploy.sh)
#   3. the walkthrough itself (hack/demo/walkthrough.sh, docs/demo.md): the catalog git-clone
#      Task, kaniko in four cache modes, `tkn pipeline start pipeline-clone-and-build
#      --workspace name=source,claimName=source-pvc`, then `tkn taskrun list` and a table of
#      image-build durations as ratios of the uncached rebuild
# DEMO_RUNS=N sets the measured builds per cache mode (default 3, the median is reported).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

"$here/install-deps.sh"
"$here/cluster-up.sh"
# shellcheck source=/dev/null
. /etc/kubernetes/env.sh
make -C "$repo" -s all
"$here/deploy.sh"
"$here/demo/walkthrough.sh" "${DEMO_RUNS:-3}"
