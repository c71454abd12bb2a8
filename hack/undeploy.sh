#!/usr/bin/env bash
# undeploy.sh: leave the cluster as the shared rules want it after a cluster-wide install
# (hack/deploy.sh): no controller Deployment in tekton-pipelines, no tektite/Tekton webhook
# configurations, the CRDs back at crds/ (conversion strategy None, so v1beta1 reads work with no
# webhook), and the webhook's Secret gone. The namespace itself stays. Idempotent; run it under
# the same EXCLUSIVE cluster lock as the install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
LC_PROG=undeploy
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}
KUBECTL=${KUBECTL:-$K8S_BIN/kubectl}
[ -x "$KUBECTL" ] || KUBECTL=$(command -v kubectl) || lc_die "no kubectl (set KUBECTL)"
ns=tekton-pipelines

# the webhooks first: with failurePolicy Fail and no server, they would refuse every write
"$KUBECTL" delete mutatingwebhookconfiguration webhook.pipeline.tekton.dev \
    --ignore-not-found > /dev/null
"$KUBECTL" delete validatingwebhookconfiguration validation.webhook.pipeline.tekton.dev \
    --ignore-not-found > /dev/null
"$KUBECTL" -n "$ns" delete deploy --all --wait=true --timeout=60s > /dev/null
"$KUBECTL" apply -f "$repo/crds/" > /dev/null
"$KUBECTL" -n "$ns" delete secret webhook-certs --ignore-not-found > /dev/null
"$KUBECTL" -n "$ns" delete service tekton-pipelines-webhook --ignore-not-found > /dev/null
lc_say "tektite removed from the cluster (CRDs kept at crds/)"
