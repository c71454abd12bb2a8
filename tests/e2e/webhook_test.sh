#!/usr/bin/env bash
# e2e-timeout: 900
# webhook_test.sh: tektite's admission and conversion webhook, installed by make deploy:
# an invalid TaskRun is refused by kubectl with Tekton's message, defaults appear on a created
# TaskRun, a v1beta1 Task reads back as v1 and a v1 Task as v1beta1 through the conversion
# webhook, and deleting or spoiling the certificate Secret makes the controller issue a new CA
# and re-inject it, after which admission still works. Cluster-wide: run it under the EXCLUSIVE
# cluster lock. At exit hack/undeploy.sh leaves the cluster as found (WEBHOOK_KEEP=1 keeps it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

SYS=tekton-pipelines
LOG=$REPO/build/e2e/webhook
MUTATING=mutatingwebhookconfiguration/webhook.pipeline.tekton.dev
mkdir -p "$LOG"

ks() { "$KUBECTL" -n "$SYS" "$@"; }

cleanup() {
    if [ "${WEBHOOK_KEEP:-}" != 1 ]; then
        ks logs deploy/tekton-pipelines-controller --tail=-1 > "$LOG/controller.log" 2>&1 || true
        KUBECTL="$KUBECTL" KUBECONFIG="$KUBECONFIG" "$REPO/hack/undeploy.sh" > "$LOG/undeploy.log" 2>&1 ||
            echo "# hack/undeploy.sh failed: $(tail -n 2 "$LOG/undeploy.log")"
    fi
    e2e_cleanup
}

ca_bundle() { "$KUBECTL" get "$MUTATING" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' 2> /dev/null; }
crd_ca() { "$KUBECTL" get crd tasks.tekton.dev -o jsonpath='{.spec.conversion.webhook.clientConfig.caBundle}' 2> /dev/null; }

# pending_taskrun NAME: a TaskRun that never starts (spec.status TaskRunPending), so no Pod runs.
pending_taskrun() {
    k create -f - 2>&1 << EOF
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: $1
spec:
  status: TaskRunPending
  taskSpec:
    steps:
      - name: s
        image: mirror.gcr.io/busybox
        script: "true"
EOF
}

# admitted NAME: a pending TaskRun NAME gets created, retried for up to 30 s, since the API
# server picks up a rewritten caBundle a moment after the configuration changes.
admitted() {
    local i out
    for ((i = 0; i < 30; i++)); do
        out=$(pending_taskrun "$1") && return 0
        grep -q AlreadyExists <<< "$out" && return 0
        sleep 1
    done
    echo "$out"
    return 1
}

e2e_init
trap cleanup EXIT

if KUBECONFIG="$KUBECONFIG" KUBECTL="$KUBECTL" DEPLOY_TIMEOUT=180 DEPLOY_LOG_LEVEL=debug \
    make -C "$REPO" -j2 deploy > "$LOG/deploy.log" 2>&1; then
    ok webhook/deploy-injects-ca
else
    not_ok webhook/deploy-injects-ca "make deploy failed: $(tail -n 4 "$LOG/deploy.log")"
    exit 1
fi

# ---- validation: Tekton's message through kubectl ----
out=$(k create -f - 2>&1 << 'EOF'
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: both
spec:
  taskRef:
    name: some-task
  taskSpec:
    steps:
      - image: mirror.gcr.io/busybox
        script: "true"
EOF
)
want='admission webhook "validation.webhook.pipeline.tekton.dev" denied the request: validation failed: expected exactly one, got both: spec.taskRef, spec.taskSpec'
if grep -qF "$want" <<< "$out" && ! k get taskrun both > /dev/null 2>&1; then
    ok webhook/invalid-taskrun-refused
else
    not_ok webhook/invalid-taskrun-refused "kubectl said: $out"
fi

# ---- defaulting: timeout, service account, managed-by label ----
if out=$(pending_taskrun defaulted); then
    got=$(k get taskrun defaulted -o jsonpath='{.spec.timeout} {.spec.serviceAccountName} {.metadata.labels.app\.kubernetes\.io/managed-by}')
    check webhook/defaults-applied test "$got" = "1h0m0s default tekton-pipelines"
else
    not_ok webhook/defaults-applied "cannot create a pending TaskRun: $out"
fi

# ---- conversion both ways ----
if k apply -f - > "$LOG/beta-task.log" 2>&1 << 'EOF'; then
apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: beta-task
spec:
  params:
    - name: msg
  steps:
    - name: echo
      image: mirror.gcr.io/busybox
      resources:
        requests:
          cpu: 10m
      script: echo $(params.msg)
EOF
    v1=$(k get task.v1.tekton.dev beta-task -o json 2>&1)
    if jq -e '.apiVersion == "tekton.dev/v1" and .spec.steps[0].computeResources.requests.cpu == "10m"
            and (.spec.steps[0] | has("resources") | not) and .spec.params[0].type == "string"' \
        <<< "$v1" > /dev/null 2>&1; then
        ok webhook/v1beta1-task-read-as-v1
    else
        not_ok webhook/v1beta1-task-read-as-v1 "got: $(jq -c '{apiVersion, spec}' <<< "$v1" 2>&1 | head -c 300)"
    fi
    beta=$(k get task.v1beta1.tekton.dev beta-task -o json 2>&1)
    check webhook/v1beta1-task-reads-back-as-v1beta1 jq -e \
        '.apiVersion == "tekton.dev/v1beta1" and .spec.steps[0].resources.requests.cpu == "10m"' <<< "$beta"
else
    not_ok webhook/v1beta1-task-read-as-v1 "kubectl apply: $(tail -n 2 "$LOG/beta-task.log")"
fi
# the catalog's kaniko 0.6, a v1beta1 Task applied unchanged, read back as v1
if k apply -f "$REPO/manifests/catalog/kaniko-0.6.yaml" > "$LOG/catalog-task.log" 2>&1; then
    v1=$(k get task.v1.tekton.dev kaniko -o json 2>&1)
    if jq -e '.apiVersion == "tekton.dev/v1" and ([.spec.steps[].name] == ["build-and-push", "write-url"])
            and ([.spec.results[].name] == ["IMAGE_DIGEST", "IMAGE_URL"])
            and ([.spec.params[].type] | all(. == "string" or . == "array"))
            and ([.spec.workspaces[].name] == ["source", "dockerconfig"])' <<< "$v1" > /dev/null 2>&1; then
        ok webhook/catalog-v1beta1-task-read-as-v1
    else
        not_ok webhook/catalog-v1beta1-task-read-as-v1 "got: $(jq -c '{apiVersion, spec}' <<< "$v1" 2>&1 | head -c 300)"
    fi
else
    not_ok webhook/catalog-v1beta1-task-read-as-v1 "kubectl apply: $(tail -n 2 "$LOG/catalog-task.log")"
fi
if k apply -f - > "$LOG/v1-run.log" 2>&1 << 'EOF'; then
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: v1-run
spec:
  status: PipelineRunPending
  taskRunTemplate:
    serviceAccountName: builder
  pipelineSpec:
    tasks:
      - name: t
        taskSpec:
          steps:
            - image: mirror.gcr.io/busybox
              computeResources:
                limits:
                  memory: 64Mi
              script: "true"
EOF
    beta=$(k get pipelinerun.v1beta1.tekton.dev v1-run -o json 2>&1)
    check webhook/v1-pipelinerun-read-as-v1beta1 jq -e '.apiVersion == "tekton.dev/v1beta1"
        and .spec.serviceAccountName == "builder"
        and .spec.pipelineSpec.tasks[0].taskSpec.steps[0].resources.limits.memory == "64Mi"' <<< "$beta"
else
    not_ok webhook/v1-pipelinerun-read-as-v1beta1 "kubectl apply: $(tail -n 2 "$LOG/v1-run.log")"
fi

# ---- rotation: a deleted Secret, then a spoiled one, each gives a new CA everywhere ----
# rotated OLD: the Secret exists again, with a CA other than OLD in the webhook configuration and
# the CRDs (the controller watches the Secret, and re-reads it every minute besides).
rotated() {
    local old=$1 now
    ks get secret webhook-certs > /dev/null 2>&1 || return 1
    now=$(ca_bundle)
    [ -n "$now" ] && [ "$now" != "$old" ] && [ "$(crd_ca)" = "$now" ]
}
old=$(ca_bundle)
ks delete secret webhook-certs > /dev/null 2>&1
start=$SECONDS
if wait_until 150 rotated "$old"; then
    echo "# new CA everywhere $((SECONDS - start))s after the Secret was deleted"
    ok webhook/secret-deleted-regenerated
else
    not_ok webhook/secret-deleted-regenerated "caBundle unchanged or Secret missing after 150s"
fi
check webhook/admission-after-rotation admitted after-rotation

old=$(ca_bundle)
# a certificate the controller did not make for its Service: must be replaced, not served
tmp=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" \
    -out "$tmp/c.pem" -days 1 -subj /CN=elsewhere > /dev/null 2>&1
ks create secret generic webhook-certs --dry-run=client -o json \
    --from-file=ca-cert.pem="$tmp/c.pem" --from-file=server-cert.pem="$tmp/c.pem" \
    --from-file=server-key.pem="$tmp/k.pem" | ks replace -f - > /dev/null 2>&1
rm -rf "$tmp"
start=$SECONDS
if wait_until 150 rotated "$old"; then
    echo "# new CA everywhere $((SECONDS - start))s after the Secret was spoiled"
    ok webhook/foreign-certificate-replaced
else
    not_ok webhook/foreign-certificate-replaced "caBundle unchanged after 150s"
fi
check webhook/admission-after-second-rotation admitted after-second-rotation
