# Start tektite for e2e tests, sourced by test files: CRDs applied, the tekton-pipelines
# namespace and its ConfigMaps created, the entrypoint image pushed to the local registry, and
# the controller run on the host with the cluster's admin kubeconfig (until it is deployed in
# the cluster). tektite_stop (trapped at exit) stops it and keeps its log.
# TEKTITE_WATCH_NAMESPACE=<ns> makes it watch that namespace only, so tests that each run their
# own controller in their own namespace never reconcile each other's runs.
# TEKTITE_REGISTRY_MIRRORS and TEKTITE_INSECURE_REGISTRIES replace the image lookups' mirror
# table (default: hack/registry-mirrors.sh) and plain-HTTP list (default: 127.0.0.1:5000), for a
# test that serves images from a registry of its own. TEKTITE_KUBECONFIG gives the controller
# an identity of its own instead of the admin's $KUBECONFIG.
# Needs: KUBECTL, KUBECONFIG, REPO (from run.sh).

TEKTITE_LOG=${TEKTITE_LOG:-${REPO}/build/e2e/tektite-controller.log}

# tektite_configure KEY=VALUE...: write the feature-flags ConfigMap with these keys.
tektite_feature_flags() {
    local args=() kv
    for kv in "$@"; do args+=(--from-literal="$kv"); done
    "$KUBECTL" -n tekton-pipelines create configmap feature-flags "${args[@]}" \
        --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
}

tektite_start() {
    local image
    mkdir -p "$(dirname "$TEKTITE_LOG")"
    "$KUBECTL" apply -f "$REPO/crds/" >/dev/null || return 1
    "$KUBECTL" wait --for=condition=Established --timeout=60s crd/taskruns.tekton.dev \
        crd/tasks.tekton.dev crd/pipelineruns.tekton.dev crd/pipelines.tekton.dev >/dev/null || return 1
    "$KUBECTL" create namespace tekton-pipelines --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
    image=$("$REPO/hack/image-tektite.sh") || return 1
    # image lookups go where the node's containerd goes: the local registry
    "$REPO/build/tektite-controller" --kubeconfig "${TEKTITE_KUBECONFIG:-$KUBECONFIG}" --entrypoint-image "$image" \
        --registry-mirrors "${TEKTITE_REGISTRY_MIRRORS:-$("$REPO/hack/registry-mirrors.sh")}" \
        --insecure-registries "${TEKTITE_INSECURE_REGISTRIES:-127.0.0.1:5000}" \
        ${TEKTITE_WATCH_NAMESPACE:+--namespace "$TEKTITE_WATCH_NAMESPACE"} \
        --log-level "${TEKTITE_LOG_LEVEL:-info}" >"$TEKTITE_LOG" 2>&1 &
    TEKTITE_PID=$!
    trap tektite_stop EXIT
    sleep 1
    if ! kill -0 "$TEKTITE_PID" 2>/dev/null; then
        echo "tektite-controller exited at start; its log:" >&2
        tail -5 "$TEKTITE_LOG" >&2
        return 1
    fi
}

tektite_stop() {
    [ -n "${TEKTITE_PID:-}" ] || return 0
    kill -TERM "$TEKTITE_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$TEKTITE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TEKTITE_PID" 2>/dev/null || true
    if grep -q '"level":"error"' "$TEKTITE_LOG"; then
        echo "tektite-controller logged errors (see $TEKTITE_LOG):" >&2
        grep '"level":"error"' "$TEKTITE_LOG" | tail -3 >&2
    fi
    TEKTITE_PID=
}

# tektite_deploy: install tektite in the cluster as a user does (make deploy: images pushed to
# the local registry, crds/ and manifests/ applied) instead of running it on the host. It
# watches every namespace, so the caller holds the exclusive cluster lock
# (/tmp/tektite-cluster.lock) while it runs. tektite_undeploy (trapped at exit) keeps the
# controller's log in $TEKTITE_LOG and runs hack/undeploy.sh, so later tests never race an
# in-cluster controller or meet a webhook with no server behind it.
TEKTITE_SELECTOR=app.kubernetes.io/name=controller,app.kubernetes.io/component=controller

tektite_deploy() {
    local log=${TEKTITE_LOG%.log}-deploy.log
    mkdir -p "$(dirname "$TEKTITE_LOG")"
    if ! DEPLOY_TIMEOUT=180 KUBECONFIG="$KUBECONFIG" KUBECTL="$KUBECTL" \
        make -C "$REPO" -j2 deploy > "$log" 2>&1; then
        echo "make deploy failed (see $log):" >&2
        tail -n 5 "$log" >&2
        return 1
    fi
    TEKTITE_DEPLOYED=1
    trap tektite_undeploy EXIT
}

tektite_undeploy() {
    [ -n "${TEKTITE_DEPLOYED:-}" ] || return 0
    "$KUBECTL" -n tekton-pipelines logs -l "$TEKTITE_SELECTOR" --tail=-1 > "$TEKTITE_LOG" 2>&1 || true
    KUBECTL="$KUBECTL" "$REPO/hack/undeploy.sh" > /dev/null 2>&1 ||
        echo "hack/undeploy.sh failed: the cluster may still have tektite installed" >&2
    if grep -q '"level":"error"' "$TEKTITE_LOG"; then
        echo "the deployed tektite-controller logged errors (see $TEKTITE_LOG):" >&2
        grep '"level":"error"' "$TEKTITE_LOG" | tail -3 >&2
    fi
    TEKTITE_DEPLOYED=
}
