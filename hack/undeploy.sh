#!/usr/bin/env bash
# undeploy.sh: stop the tektite that hack/deploy.sh (make deploy, make demo) runs in the cluster,
# leaving what a host-run controller and the e2e tests expect: tektite's CRDs applied, namespace
# tekton-pipelines present with no controller Deployment in it (its Pods gone, so nothing in the
# cluster reconciles runs any more), and no Tekton webhook configurations. RBAC, ConfigMaps and
# the Service stay: they are harmless without the Deployment and the next deploy reapplies them.
# Runs, their Pods and the walkthrough's namespace are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
LC_PROG=undeploy
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}
KUBECTL=${KUBECTL:-$K8S_BIN/kubectl}
[ -x "$KUBECTL" ] || KUBECTL=$(command -v kubectl) || lc_die "no kubectl (set KUBECTL)"
ns=tekton-pipelines

"$KUBECTL" get namespace "$ns" > /dev/null 2>&1 || "$KUBECTL" create namespace "$ns" > /dev/null
"$KUBECTL" -n "$ns" delete deploy --all --wait=true --timeout=90s > /dev/null
# --wait covers the Deployment, not its Pods: a terminating controller still reconciles
wait_for 90 "the controller Pods in $ns to go" \
    sh -c "[ -z \"\$('$KUBECTL' -n '$ns' get pods -l app.kubernetes.io/part-of=tekton-pipelines -o name)\" ]" ||
    lc_die "controller Pods still in $ns: $("$KUBECTL" -n "$ns" get pods -o name | tr '\n' ' ')"
for kind in validatingwebhookconfigurations mutatingwebhookconfigurations; do
    "$KUBECTL" get "$kind" -o name | grep -i tekton | xargs -r "$KUBECTL" delete > /dev/null || true
done
"$KUBECTL" apply -f "$repo/crds/" > /dev/null
lc_say "no controller in $ns; CRDs from crds/ applied"
