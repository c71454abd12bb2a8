#!/usr/bin/env bash
# deploy.sh: install tektite on the cluster $KUBECONFIG names (default: the local cluster's
# admin kubeconfig), as Tekton installs: push both images (hack/image-tektite.sh push), apply
# crds/ and manifests/ with the image references rewritten to the pushed digests and
# pipelines-info's version set to the controller's, then wait, bounded, for the rollout.
#   DEPLOY_TIMEOUT   seconds to wait for the rollout (default 180)
#   DEPLOY_REPLICAS  controller replicas (default: the manifest's 1; 2+ to exercise failover)
#   DEPLOY_LOG_LEVEL the controller's log level (default: the manifest's info)
#   DEPLOY_WEBHOOK   1 (default): install the admission and conversion webhook
#                    (manifests/500-webhook.yaml, --webhook-port) and wait until the controller
#                    has injected its CA everywhere; 0: leave it out
# Prints "controller=REF" and "entrypoint=REF". The rendered manifest is kept in
# build/deploy/tektite.yaml. hack/undeploy.sh takes it all away again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"
LC_PROG=deploy
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}
KUBECTL=${KUBECTL:-$K8S_BIN/kubectl}
[ -x "$KUBECTL" ] || KUBECTL=$(command -v kubectl) || lc_die "no kubectl (set KUBECTL)"
timeout=${DEPLOY_TIMEOUT:-180}
replicas=${DEPLOY_REPLICAS:-}
log_level=${DEPLOY_LOG_LEVEL:-}
webhook=${DEPLOY_WEBHOOK:-1}
out=$repo/build/deploy
ns=tekton-pipelines
deploy=tekton-pipelines-controller

[[ $timeout =~ ^[0-9]+$ ]] || lc_die "DEPLOY_TIMEOUT '$timeout' is not a number of seconds"
[[ -z $replicas || $replicas =~ ^[0-9]+$ ]] || lc_die "DEPLOY_REPLICAS '$replicas' is not a count"
[[ -z $log_level || $log_level =~ ^(debug|info|warn|error)$ ]] ||
    lc_die "DEPLOY_LOG_LEVEL '$log_level' is not one of debug, info, warn, error"
[[ $webhook =~ ^[01]$ ]] || lc_die "DEPLOY_WEBHOOK '$webhook' is not 0 or 1"
"$KUBECTL" version > /dev/null 2>&1 || lc_die "cannot reach the API server through $KUBECONFIG"
mkdir -p "$out"

refs=$("$here/image-tektite.sh" push)
ctl=$(sed -n 's/^controller=//p' <<< "$refs")
ep=$(sed -n 's/^entrypoint=//p' <<< "$refs")
[[ $ctl == *@sha256:* && $ep == *@sha256:* ]] || lc_die "image-tektite.sh gave no digests: $refs"
version=$("$repo/build/tektite-controller" --version | awk '{print $2}')
# the controller's image lookups go where the node's containerd goes: the node's registry
node_registry=${NODE_IP:-10.240.0.1}:5000
mirrors=$("$here/registry-mirrors.sh" "$node_registry")

# CRDs first: the controller's informers fail until they are established
"$KUBECTL" apply -f "$repo/crds/" > /dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s crd/taskruns.tekton.dev \
    crd/tasks.tekton.dev crd/pipelineruns.tekton.dev crd/pipelines.tekton.dev > /dev/null

# render: by digest, so every build is a new Pod spec and no pull policy matters
for f in "$repo"/manifests/*.yaml; do
    [[ $webhook == 0 && $f == */500-webhook.yaml ]] && continue
    echo "---"
    cat "$f"
done | sed -E \
    -e "s|127\.0\.0\.1:5000/tektite/controller:latest|$ctl|" \
    -e "s|127\.0\.0\.1:5000/tektite/entrypoint:latest|$ep|" \
    -e "s|^  version: \"devel\"$|  version: \"$version\"|" \
    -e "/name: TEKTITE_REGISTRY_MIRRORS$/{n;s|value: \"\"$|value: '$mirrors'|}" \
    -e "/name: TEKTITE_INSECURE_REGISTRIES$/{n;s|value: \"\"$|value: \"$node_registry\"|}" \
    ${replicas:+-e "s|^  replicas: 1$|  replicas: $replicas|"} \
    ${log_level:+-e "/name: TEKTITE_LOG_LEVEL$/{n;s|value: info$|value: $log_level|}"} \
    $([[ $webhook == 0 ]] && echo "-e /--webhook-port=/d") \
    > "$out/tektite.yaml"
grep -qF "$ctl" "$out/tektite.yaml" || lc_die "manifests/ lost the controller image placeholder"
"$KUBECTL" apply -f "$out/tektite.yaml" > /dev/null

if ! "$KUBECTL" -n "$ns" rollout status "deploy/$deploy" --timeout="${timeout}s" >&2; then
    lc_say "the controller did not roll out in ${timeout}s; its pods:"
    "$KUBECTL" -n "$ns" get pods -o wide >&2 || true
    "$KUBECTL" -n "$ns" describe pods -l app.kubernetes.io/name=controller 2>&1 | tail -30 >&2 || true
    "$KUBECTL" -n "$ns" logs "deploy/$deploy" --tail=20 >&2 || true
    exit 1
fi
# the webhook is usable once the controller has put its CA into every object that needs it
webhook_ready() {
    local crd cfg
    for crd in tasks taskruns pipelines pipelineruns; do
        [[ $("$KUBECTL" get crd "$crd.tekton.dev" -o jsonpath='{.spec.conversion.strategy}') == Webhook ]] ||
            return 1
    done
    for cfg in mutatingwebhookconfiguration/webhook.pipeline.tekton.dev \
        validatingwebhookconfiguration/validation.webhook.pipeline.tekton.dev; do
        [[ -n $("$KUBECTL" get "$cfg" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]] ||
            return 1
    done
}
if [[ $webhook == 1 ]]; then
    for ((i = 0; i < timeout; i++)); do
        webhook_ready 2> /dev/null && break
        sleep 1
    done
    webhook_ready 2> /dev/null || {
        "$KUBECTL" -n "$ns" logs "deploy/$deploy" --tail=20 >&2 || true
        lc_die "the webhook's CA was not injected within ${timeout}s"
    }
fi
lc_say "tektite $version running in $ns"
echo "controller=$ctl"
echo "entrypoint=$ep"
