#!/usr/bin/env bash
# undeploy.sh: stop the tektite that hack/deploy.sh (make deploy, make demo) runs in the cluster,
# leaving what a host-run controller and the e2e tests expect: tektite's CRDs back at crds/
# (conversion strategy None, so v1beta1 reads work with no webhook), namespace tekton-pipelines
# present with no controller Deployment in it (its Pods gone, so nothing in the cluster
# reconciles runs any more), no Tekton webhook configurations, and the webhook's Secret and
# Service gone. RBAC and ConfigMaps stay: they are harmless without the Deployment and the next
# deploy reapplies them. Runs, their Pods and the walkthrough's namespace are left alone.
# Idempotent; run it under the same exclusive cluster lock as the install.
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
for kind in validatingwebhookconfigurations mutatingwebhookconfigurations; do
    "$KUBECTL" get "$kind" -o name | grep -i tekton | xargs -r "$KUBECTL" delete > /dev/null || true
done
"$KUBECTL" get namespace "$ns" > /dev/null 2>&1 || "$KUBECTL" create namespace "$ns" > /dev/null
"$KUBECTL" -n "$ns" delete deploy --all --wait=true --timeout=90s > /dev/null
# --wait covers the Deployment, not its Pods: a terminating controller still reconciles
wait_for 90 "the controller Pods in $ns to go" \
    sh -c "[ -z \"\$('$KUBECTL' -n '$ns' get pods -l app.kubernetes.io/part-of=tekton-pipelines -o name)\" ]" ||
    lc_die "controller Pods still in $ns: $("$KUBECTL" -n "$ns" get pods -o name | tr '\n' ' ')"
"$KUBECTL" apply -f "$repo/crds/" > /dev/null
"$KUBECTL" -n "$ns" delete secret webhook-certs --ignore-not-found > /dev/null
"$KUBECTL" -n "$ns" delete service tekton-pipelines-webhook --ignore-not-found > /dev/null
lc_say "no controller in $ns; CRDs from crds/ applied; no webhook configurations"
