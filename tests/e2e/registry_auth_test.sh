#!/usr/bin/env bash
# Registries and credentials on the real cluster (issue 5's acceptance), with a host controller
# that watches this test's namespace only:
#   entrypoint  A step that gives only `args` runs its image's ENTRYPOINT with them, and a step
#               that gives neither gets ENTRYPOINT + CMD: for an image in the local registry by
#               tag, for a multi-platform OCI index (the node's platform must win over the other
#               one), and for a digest reference whose tag has since moved to another image.
#   pull        A second registry, docker-registry with token auth (this file's token server,
#               tests/e2e/authserver.py, checks a user and password and signs the JWTs), on a
#               free port of the node IP 10.240.0.1 (which lives on lo: nothing outside the
#               machine reaches it). A TaskRun whose ServiceAccount has an imagePullSecret for it
#               runs an args-only step from it: the controller's lookup got a token with the
#               Secret's credentials, and so did the kubelet's pull (containerd POSTs to the
#               token server, the controller GETs, so their log lines tell them apart). Wrong
#               credentials and no credentials fail the TaskRun (PodCreationFailed) with a
#               message naming the image and the registry's answer, and no Pod.
#   push        A kaniko step (args only: its ENTRYPOINT comes from the lookup too) pushes an
#               image to that registry with the docker credentials creds-init wrote from a
#               basic-auth Secret annotated tekton.dev/docker-0 (DOCKER_CONFIG is
#               $(credentials.path)/.docker); the host then finds the image there and reads the
#               file the step put in it.
#   git         A step clones over HTTP from git-http-backend behind basic auth on another free
#               port of 10.240.0.1, with the credentials from a basic-auth Secret annotated
#               tekton.dev/git-0; the same step without the Secret fails with git's
#               authentication error.
#   rbac        The controller runs as a ServiceAccount of this namespace holding exactly the
#               rules manifests/200-rbac.yaml gives tektite (as Roles here and in
#               tekton-pipelines), so everything above passes with `get` on Secrets and no list
#               or watch; that identity cannot list Secrets, and the controller logged no
#               refused request.
# What this file changes on the host, all undone at exit: the servers it starts, a
# certs.d/10.240.0.1:<port>/hosts.toml for the cluster's containerd (read per pull in its
# config_path mode, no restart), one ACCEPT rule at the top of INPUT so pods reach the three
# ports (cluster-up.sh's LC-POD-INPUT admits only POD_HOST_TCP_PORTS), the manifests it pushed to
# 127.0.0.1:5000 and the images containerd pulled for it.
# e2e-timeout: 900
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/tektite.sh"
. "$REPO/hack/lib.sh"
TEKTITE_LOG=$REPO/build/e2e/registry-auth-controller.log
T=registry-auth
USER_NAME=alice
PASSWORD="s3cret-$RANDOM"
LOCAL=$REGISTRY # 127.0.0.1:5000
BUSYBOX_LAYER=$LC_CACHE/images-r$IMAGES_REV/layers/busybox.tar.gz
KANIKO_IMAGE=gcr.io/kaniko-project/executor:v1.24.0
GIT_IMAGE=docker.io/alpine/git:latest
CERTS_D=$LC_ETC/containerd/certs.d

case $(uname -m) in
    x86_64) NATIVE=amd64 OTHER=arm64/v8 ;;
    aarch64) NATIVE=arm64 OTHER=amd64 ;;
    *) NATIVE=$(uname -m) OTHER=amd64 ;;
esac

tmp=$(mktemp -d)
PIDS=() PUSHED=() FW_RULE=() HOSTS_DIR="" SYSTEM_RBAC=""
cleanup() {
    local pid ref
    tektite_stop
    e2e_cleanup
    [ -z "$SYSTEM_RBAC" ] || "$KUBECTL" -n tekton-pipelines delete role,rolebinding "e2e-$NS" > /dev/null 2>&1
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    [ -z "$HOSTS_DIR" ] || rm -rf "$HOSTS_DIR"
    [ ${#FW_RULE[@]} = 0 ] || iptables -D INPUT "${FW_RULE[@]}" 2>/dev/null
    for ref in "${PUSHED[@]}"; do
        curl -s -o /dev/null -X DELETE "http://$LOCAL/v2/${ref%@*}/manifests/${ref#*@}"
    done
    if [ -n "${NS:-}" ]; then
        ctr --address "$CTRD_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -F "/$NS/" |
            xargs -r ctr --address "$CTRD_SOCK" -n k8s.io images rm > /dev/null 2>&1
    fi
    rm -rf "$tmp"
}

for need in "$BUSYBOX_LAYER:the busybox layer (hack/images.sh)" \
    "$(command -v docker-registry):docker-registry" "$(command -v skopeo):skopeo" \
    "$(command -v git):git" "$(command -v python3):python3"; do
    if [ ! -e "${need%%:*}" ]; then
        not_ok $T/prerequisites "missing ${need#*:}"
        exit 1
    fi
done
for img in "$KANIKO_IMAGE" "$GIT_IMAGE"; do
    if ! curl -sf -o /dev/null "http://$LOCAL/v2/${img%:*}/tags/list" ||
        ! curl -s "http://$LOCAL/v2/${img%:*}/tags/list" | jq -e --arg t "${img##*:}" '.tags | index($t)' > /dev/null; then
        not_ok $T/prerequisites "$img is not in $LOCAL (hack/images.sh, hack/build-demo-images.sh)"
        exit 1
    fi
done

e2e_init
trap cleanup EXIT

# free_port: a TCP port nothing listens on at the node IP now.
free_port() {
    python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$NODE_IP"
}

# wait_http URL: bounded wait until URL answers at all (any status).
wait_http() { wait_until 20 curl -s -o /dev/null "$1"; }

# ---- images --------------------------------------------------------------------------------

# mkimg DIR WORD [PLATFORM]: an OCI layout of busybox whose ENTRYPOINT echoes WORD and whose
# CMD is "default-cmd"; prints the manifest digest.
mkimg() {
    MKOCI_PLATFORM=${3:-linux/$NATIVE} "$REPO/hack/mkoci.sh" "$1" latest \
        "{\"Entrypoint\":[\"/bin/busybox\",\"echo\",\"$2\"],\"Cmd\":[\"default-cmd\"]}" "$BUSYBOX_LAYER"
}

# push_local LAYOUT TAG REPO [--all]: copy to the local registry; remember REPO@digest for cleanup.
push_local() {
    local digest
    skopeo copy -q ${4:-} --dest-tls-verify=false "oci:$1:$2" "docker://$LOCAL/$3:$2" || return 1
    digest=$(curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$LOCAL/v2/$3/manifests/$2" |
        tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    [ -n "$digest" ] && PUSHED+=("$3@$digest")
}

# mkindex OUT TAG LAYOUT:PLATFORM...: one OCI layout holding an image index over the given
# one-image layouts, each entry labelled with its platform.
mkindex() {
    local out=$1 tag=$2 entries=() l plat m size os arch variant index digest
    shift 2
    mkdir -p "$out/blobs/sha256"
    for l in "$@"; do
        plat=${l#*:} l=${l%%:*}
        cp -n "$l"/blobs/sha256/* "$out/blobs/sha256/"
        m=$(jq -r '.manifests[0].digest' "$l/index.json")
        size=$(stat -c %s "$l/blobs/sha256/${m#sha256:}")
        IFS=/ read -r os arch variant <<< "$plat"
        entries+=("$(jq -cn --arg d "$m" --argjson s "$size" --arg os "$os" --arg a "$arch" --arg v "$variant" \
            '{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
              platform: ({os: $os, architecture: $a} + (if $v == "" then {} else {variant: $v} end))}')")
    done
    index=$(printf '%s\n' "${entries[@]}" | jq -cs '{schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}')
    digest=$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)
    printf '%s' "$index" > "$out/blobs/sha256/$digest"
    jq -cn --arg d "sha256:$digest" --argjson s "${#index}" --arg t "$tag" '{schemaVersion: 2,
        manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
                     annotations: {"org.opencontainers.image.ref.name": $t}}]}' > "$out/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
}

setup_images() {
    local pinned
    mkimg "$tmp/oci/tag" "ep-tag-$NS" > /dev/null &&
        push_local "$tmp/oci/tag" latest "$NS/ep" &&
        skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci/tag:latest" "docker://$LOCAL/$NS/ep:v1" || return 1
    mkimg "$tmp/oci/native" "ep-$NATIVE-$NS" > /dev/null &&
        mkimg "$tmp/oci/other" "ep-${OTHER%%/*}-$NS" "linux/$OTHER" > /dev/null &&
        mkindex "$tmp/oci/multi" v1 "$tmp/oci/other:linux/$OTHER" "$tmp/oci/native:linux/$NATIVE" &&
        push_local "$tmp/oci/multi" v1 "$NS/multi" --all || return 1
    # the digest reference names the first image; its tag is then moved to another one
    pinned=$(mkimg "$tmp/oci/pinned" "ep-pinned-$NS") &&
        push_local "$tmp/oci/pinned" latest "$NS/pinned" &&
        mkimg "$tmp/oci/moved" "ep-moved-$NS" > /dev/null &&
        push_local "$tmp/oci/moved" latest "$NS/pinned" || return 1
    PINNED_REF=$LOCAL/$NS/pinned@$pinned
    mkimg "$tmp/oci/private" "ep-private-$NS" > /dev/null
}

# ---- the authenticated registry, its token server, the git server ---------------------------

start_servers() {
    local st=$tmp/registry
    RP=$(free_port) TP=$(free_port) GP=$(free_port)
    [ "$RP" != "$TP" ] && [ "$TP" != "$GP" ] && [ "$RP" != "$GP" ] || return 1
    AUTH_REGISTRY=$NODE_IP:$RP
    mkdir -p "$st"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=e2e-token-issuer \
        -keyout "$st/token.key" -out "$st/token.crt" 2> "$st/openssl.log" || return 1
    cat > "$st/config.yml" <<EOF
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $st/data}
  delete: {enabled: true}
http:
  addr: $AUTH_REGISTRY
auth:
  token:
    realm: http://$NODE_IP:$TP/token
    service: e2e-registry
    issuer: e2e-token-issuer
    rootcertbundle: $st/token.crt
EOF
    python3 "$here/authserver.py" token "$NODE_IP" "$TP" "$USER_NAME" "$PASSWORD" \
        "$st/token.key" "$st/token.crt" e2e-token-issuer e2e-registry > "$tmp/token.log" 2>&1 &
    PIDS+=($!)
    docker-registry serve "$st/config.yml" > "$tmp/registry.log" 2>&1 &
    PIDS+=($!)
    # the repository: one commit whose README the clone prints
    git init -q --bare "$tmp/git/repo.git" &&
        git init -q "$tmp/src" && echo "clone-ok-$NS" > "$tmp/src/README" &&
        git -C "$tmp/src" add README &&
        git -C "$tmp/src" -c user.name=e2e -c user.email=e2e@example.invalid commit -qm init &&
        git -C "$tmp/src" push -q "$tmp/git/repo.git" HEAD:refs/heads/main &&
        git -C "$tmp/git/repo.git" symbolic-ref HEAD refs/heads/main || return 1
    python3 "$here/authserver.py" git "$NODE_IP" "$GP" "$USER_NAME" "$PASSWORD" "$tmp/git" \
        > "$tmp/git.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://$NODE_IP:$TP/token" && wait_http "http://$AUTH_REGISTRY/v2/" &&
        wait_http "http://$NODE_IP:$GP/" || return 1
    # the node's containerd: plain HTTP to this registry (credentials come from the kubelet)
    HOSTS_DIR=$CERTS_D/$AUTH_REGISTRY
    mkdir -p "$HOSTS_DIR"
    printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
        "$AUTH_REGISTRY" "$AUTH_REGISTRY" > "$HOSTS_DIR/hosts.toml"
    # pods may reach the three ports: accepted in INPUT ahead of cluster-up's jump to its
    # LC-POD-INPUT, which a concurrent cluster-up.sh would rebuild (dropping a rule added there)
    FW_RULE=(-i cni0 -d "$NODE_IP/32" -p tcp -m multiport --dports "$RP,$TP,$GP" -m comment --comment "e2e $NS" -j ACCEPT)
    iptables -I INPUT 1 "${FW_RULE[@]}" || return 1
    skopeo copy -q --dest-tls-verify=false --dest-creds "$USER_NAME:$PASSWORD" \
        "oci:$tmp/oci/private:latest" "docker://$AUTH_REGISTRY/$NS/private:v1"
}

if ! setup_images > "$tmp/images.out" 2>&1; then
    not_ok $T/setup-images "$(tail -n 3 "$tmp/images.out")"
    exit 1
fi
if ! start_servers > "$tmp/servers.out" 2>&1; then
    not_ok $T/setup-servers "$(tail -n 3 "$tmp/servers.out"); registry: $(tail -n 2 "$tmp/registry.log"); token: $(tail -n 2 "$tmp/token.log")"
    exit 1
fi

# The controller's identity: a ServiceAccount here with the shipped RBAC's rules, the
# ClusterRoles' as a Role in this namespace (all a --namespace controller needs of them) and
# the system namespace Role's in tekton-pipelines.
CTL_SA=tektite-controller
rbac_objects() {
    # (one JSON object per YAML document: slurped into {items})
    "$KUBECTL" create --dry-run=client -o json -f "$REPO/manifests/200-rbac.yaml" | jq -s '{items: .}' | jq -c \
        --arg ns "$NS" --arg sa "$CTL_SA" --arg name "e2e-$NS" '
        ([.items[] | select(.kind == "ClusterRole" and
            (.metadata.name | startswith("tekton-pipelines-controller-"))) | .rules[]]) as $tenant
        | ([.items[] | select(.kind == "Role" and .metadata.name == "tekton-pipelines-controller")
            | .rules[]]) as $system
        | def role($n; $rules): {apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
              metadata: {name: $name, namespace: $n}, rules: $rules};
          def binding($n): {apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
              metadata: {name: $name, namespace: $n},
              subjects: [{kind: "ServiceAccount", name: $sa, namespace: $ns}],
              roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: $name}};
          if ($tenant | length) == 0 or ($system | length) == 0 then error("rules not found")
          else {apiVersion: "v1", kind: "List", items: [role($ns; $tenant), binding($ns),
              role("tekton-pipelines"; $system), binding("tekton-pipelines")]} end'
}
controller_identity() {
    local token
    k create serviceaccount "$CTL_SA" > /dev/null &&
        "$KUBECTL" create namespace tekton-pipelines --dry-run=client -o yaml | "$KUBECTL" apply -f - > /dev/null &&
        rbac_objects > "$tmp/rbac.json" && "$KUBECTL" create -f "$tmp/rbac.json" > /dev/null || return 1
    SYSTEM_RBAC=1
    token=$(k create token "$CTL_SA" --duration=2h) || return 1
    jq -n --arg s "$("$KUBECTL" config view --minify -o jsonpath='{.clusters[0].cluster.server}')" \
        --arg ca "$PKI/ca.crt" --arg t "$token" --arg ns "$NS" '{apiVersion: "v1", kind: "Config",
        clusters: [{name: "lc", cluster: {server: $s, "certificate-authority": $ca}}],
        users: [{name: "ctl", user: {token: $t}}],
        contexts: [{name: "ctl", context: {cluster: "lc", user: "ctl", namespace: $ns}}],
        "current-context": "ctl"}' > "$tmp/controller.kubeconfig"
}
# (not in a $(...) subshell: SYSTEM_RBAC must reach the cleanup)
if ! controller_identity > "$tmp/identity.out" 2>&1; then
    not_ok $T/controller-identity "$(tail -n 3 "$tmp/identity.out")"
    exit 1
fi

export TEKTITE_WATCH_NAMESPACE=$NS TEKTITE_LOG TEKTITE_KUBECONFIG=$tmp/controller.kubeconfig
TEKTITE_INSECURE_REGISTRIES=$LOCAL,$AUTH_REGISTRY,$NODE_IP:$TP
TEKTITE_REGISTRY_MIRRORS=$("$REPO/hack/registry-mirrors.sh" | jq -c --arg h "$AUTH_REGISTRY" '. + {($h): ["http://\($h)"]}')
export TEKTITE_INSECURE_REGISTRIES TEKTITE_REGISTRY_MIRRORS
if ! tektite_start; then
    not_ok $T/start "tektite did not start (log: $TEKTITE_LOG)"
    exit 1
fi
trap cleanup EXIT # tektite_start traps tektite_stop alone

# ---- objects -------------------------------------------------------------------------------

pull_secret() { # NAME PASSWORD
    k create secret docker-registry "$1" --docker-server="$AUTH_REGISTRY" \
        --docker-username="$USER_NAME" --docker-password="$2" > /dev/null
}

# taskrun NAME SA STEPS_JSON: a TaskRun with an embedded taskSpec.
taskrun() {
    jq -n --arg n "$1" --arg sa "$2" --argjson steps "$3" '{apiVersion: "tekton.dev/v1",
        kind: "TaskRun", metadata: {name: $n},
        spec: {serviceAccountName: $sa, timeout: "5m", taskSpec: {steps: $steps}}}' | k create -f - > /dev/null
}

create_objects() {
    pull_secret pull-good "$PASSWORD" && pull_secret pull-bad "wrong-$PASSWORD" || return 1
    k create serviceaccount puller > /dev/null && k create serviceaccount bad-puller > /dev/null &&
        k create serviceaccount builder > /dev/null || return 1
    k patch serviceaccount puller -p '{"imagePullSecrets": [{"name": "pull-good"}]}' > /dev/null &&
        k patch serviceaccount bad-puller -p '{"imagePullSecrets": [{"name": "pull-bad"}]}' > /dev/null || return 1
    jq -n --arg u "$USER_NAME" --arg p "$PASSWORD" --arg d "http://$AUTH_REGISTRY" \
        --arg g "http://$NODE_IP:$GP" '
        {apiVersion: "v1", kind: "List", items: [
          {apiVersion: "v1", kind: "Secret", type: "kubernetes.io/basic-auth",
           metadata: {name: "docker-push", annotations: {"tekton.dev/docker-0": $d}},
           stringData: {username: $u, password: $p}},
          {apiVersion: "v1", kind: "Secret", type: "kubernetes.io/basic-auth",
           metadata: {name: "git-basic", annotations: {"tekton.dev/git-0": $g}},
           stringData: {username: $u, password: $p}}]}' | k create -f - > /dev/null || return 1
    k patch serviceaccount builder -p '{"secrets": [{"name": "docker-push"}, {"name": "git-basic"}]}' > /dev/null || return 1

    local private=$AUTH_REGISTRY/$NS/private:v1 clone
    taskrun tr-tag default "$(jq -n --arg i "$LOCAL/$NS/ep:v1" \
        '[{name: "args-only", image: $i, args: ["hello-tag"]}, {name: "no-args", image: $i}]')" &&
        taskrun tr-multi default "$(jq -n --arg i "$LOCAL/$NS/multi:v1" \
            '[{name: "args-only", image: $i, args: ["hello-multi"]}]')" &&
        taskrun tr-digest default "$(jq -n --arg i "$PINNED_REF" \
            '[{name: "args-only", image: $i, args: ["hello-digest"]}]')" &&
        taskrun tr-private puller "$(jq -n --arg i "$private" \
            '[{name: "args-only", image: $i, args: ["hello-private"]}]')" &&
        taskrun tr-private-bad bad-puller "$(jq -n --arg i "$private" \
            '[{name: "args-only", image: $i, args: ["hello-private"]}]')" &&
        taskrun tr-private-anon default "$(jq -n --arg i "$private" \
            '[{name: "args-only", image: $i, args: ["hello-private"]}]')" || return 1
    taskrun tr-push builder "$(jq -n --arg d "$AUTH_REGISTRY/$NS/pushed:v1" --arg m "pushed-by-$NS" \
        --arg bb mirror.gcr.io/busybox --arg kaniko "$KANIKO_IMAGE" '[
        {name: "context", image: $bb,
         script: "#!/bin/sh\nset -e\nmkdir -p /workspace/ctx\necho \($m | @sh) > /workspace/ctx/hello.txt\nprintf \"FROM scratch\\nCOPY hello.txt /hello.txt\\n\" > /workspace/ctx/Dockerfile\n"},
        {name: "kaniko", image: $kaniko,
         env: [{name: "DOCKER_CONFIG", value: "$(credentials.path)/.docker"}],
         args: ["--dockerfile=/workspace/ctx/Dockerfile", "--context=dir:///workspace/ctx",
                "--destination=\($d)", "--insecure", "--skip-tls-verify", "--verbosity=warn"]}]')" ||
        return 1
    clone="#!/bin/sh
set -e
git clone http://$NODE_IP:$GP/repo.git /workspace/src
cat /workspace/src/README"
    taskrun tr-clone builder "$(jq -n --arg i "$GIT_IMAGE" --arg s "$clone" \
        '[{name: "clone", image: $i, script: $s, env: [{name: "GIT_TERMINAL_PROMPT", value: "0"}]}]')" &&
        taskrun tr-clone-anon default "$(jq -n --arg i "$GIT_IMAGE" --arg s "$clone" \
            '[{name: "clone", image: $i, script: $s, env: [{name: "GIT_TERMINAL_PROMPT", value: "0"}]}]')"
}

if ! out=$(create_objects 2>&1); then
    not_ok $T/objects "$out"
    exit 1
fi

# ---- checks --------------------------------------------------------------------------------

TRS="tr-tag tr-multi tr-digest tr-private tr-private-bad tr-private-anon tr-push tr-clone tr-clone-anon"
# tr_done NAME: its Succeeded condition is final.
tr_done() { k get taskrun "$1" -o json | jq -e '.status.conditions[]? | select(.type == "Succeeded"
    and (.status == "True" or .status == "False"))' > /dev/null; }
all_done() { local t; for t in $TRS; do tr_done "$t" || return 1; done; }
wait_until 420 all_done

# tr_summary NAME: "status/reason: message" of its Succeeded condition.
tr_summary() {
    k get taskrun "$1" -o json 2>/dev/null | jq -r '(.status.conditions // [] | map(select(.type ==
        "Succeeded"))[0]) as $c | "\($c.status // "none")/\($c.reason // "-"): \($c.message // "")"'
}

# step_log TR STEP: the step container's log.
step_log() {
    local pod
    pod=$(k get taskrun "$1" -o jsonpath='{.status.podName}' 2>/dev/null)
    [ -n "$pod" ] && k logs "$pod" -c "step-$2" 2>&1
}

# expect_line CHECK TR STEP WANT: TR succeeded and STEP's log has the line WANT.
expect_line() {
    local name=$1 tr=$2 step=$3 want=$4 s logs
    s=$(tr_summary "$tr")
    logs=$(step_log "$tr" "$step")
    if [ "${s%%/*}" != True ]; then
        not_ok "$name" "TaskRun $tr: $s; step $step log: $(tail -n 3 <<< "$logs")"
    elif ! grep -qxF -- "$want" <<< "$logs"; then
        not_ok "$name" "TaskRun $tr succeeded but step $step printed no line '$want': $(tail -n 3 <<< "$logs")"
    else
        ok "$name"
    fi
}

# expect_lookup_failure CHECK TR WHY: TR failed as PodCreationFailed, its message names the
# image and contains WHY, and it has no Pod.
expect_lookup_failure() {
    local name=$1 tr=$2 why=$3 s pods
    s=$(tr_summary "$tr")
    pods=$(k get pods -l "tekton.dev/taskRun=$tr" -o name 2>&1)
    if [[ $s != False/PodCreationFailed:* ]]; then
        not_ok "$name" "TaskRun $tr: want False/PodCreationFailed, got $s"
    elif [[ $s != *"$AUTH_REGISTRY/$NS/private:v1"* ]]; then
        not_ok "$name" "TaskRun $tr's message does not name the image: $s"
    elif [[ $s != *"$why"* ]]; then
        not_ok "$name" "TaskRun $tr's message does not say '$why': $s"
    elif [ -n "$pods" ]; then
        not_ok "$name" "TaskRun $tr failed its lookup but has a Pod: $pods"
    else
        ok "$name"
    fi
}

# token_grant METHOD REPO ACTION: the token server granted ACTION on REPO to the right user over
# METHOD (GET: our controller, and kaniko; POST: containerd's OAuth2 form).
token_grant() {
    grep -F "token for ok ($1)" "$tmp/token.log" | grep -F "\"name\": \"$2\"" | grep -qF "\"$3\""
}

expect_line $T/entrypoint/tag-args-only tr-tag args-only "ep-tag-$NS hello-tag"
expect_line $T/entrypoint/tag-no-args tr-tag no-args "ep-tag-$NS default-cmd"
expect_line $T/entrypoint/index tr-multi args-only "ep-$NATIVE-$NS hello-multi"
expect_line $T/entrypoint/digest tr-digest args-only "ep-pinned-$NS hello-digest"

expect_line $T/pull/secret tr-private args-only "ep-private-$NS hello-private"
check $T/pull/controller-token token_grant GET "$NS/private" pull
check $T/pull/kubelet-token token_grant POST "$NS/private" pull
expect_lookup_failure $T/pull/wrong-credentials tr-private-bad "invalid username or password"
expect_lookup_failure $T/pull/no-credentials tr-private-anon "401"

s=$(tr_summary tr-push)
if [ "${s%%/*}" = True ]; then
    ok $T/push/kaniko
else
    not_ok $T/push/kaniko "TaskRun tr-push: $s; kaniko log: $(step_log tr-push kaniko | tail -n 3)"
fi
# the pushed image, read back from the host: its one layer holds the step's file
pushed_file() {
    skopeo copy -q --src-tls-verify=false --src-creds "$USER_NAME:$PASSWORD" \
        "docker://$AUTH_REGISTRY/$NS/pushed:v1" "dir:$tmp/pushed" || return 1
    local layer
    layer=$(jq -r '.layers[-1].digest' "$tmp/pushed/manifest.json")
    tar -xzOf "$tmp/pushed/${layer#sha256:}" hello.txt
}
got=$(pushed_file 2>&1)
if [ "$got" = "pushed-by-$NS" ]; then
    ok $T/push/in-registry
else
    not_ok $T/push/in-registry "want hello.txt = pushed-by-$NS in $AUTH_REGISTRY/$NS/pushed:v1, got: $got"
fi
check $T/push/token token_grant GET "$NS/pushed" push

expect_line $T/git/clone tr-clone clone "clone-ok-$NS"
s=$(tr_summary tr-clone-anon)
logs=$(step_log tr-clone-anon clone)
if [ "${s%%/*}" != False ]; then
    not_ok $T/git/no-secret "TaskRun tr-clone-anon: want False, got $s"
elif ! grep -qE 'Authentication failed|could not read Username' <<< "$logs"; then
    not_ok $T/git/no-secret "TaskRun tr-clone-anon failed, but not with git's authentication error: $(tail -n 3 <<< "$logs")"
else
    ok $T/git/no-secret
fi

# Secrets in the shipped RBAC: users' Secrets (the ClusterRoles) `get` only, never list or watch
# (docs/registry.md says why); in tekton-pipelines the Role only creates the webhook's own Secret
# and reads, updates and watches it by name.
secret_verbs() { # KIND: the verbs KIND's rules give on Secrets, without a resourceNames limit
    "$KUBECTL" create --dry-run=client -o json -f "$REPO/manifests/200-rbac.yaml" |
        jq -sc --arg kind "$1" '[.[] | select(.kind == $kind) | .rules[]
            | select((.resources // []) | index("secrets") or index("*"))
            | select((.resourceNames // []) | length == 0) | .verbs] | add // [] | unique'
}
verbs="$(secret_verbs ClusterRole 2>&1) $(secret_verbs Role 2>&1)"
if [ "$verbs" = '["get"] ["create"]' ]; then
    ok $T/rbac/secrets-get-only
else
    not_ok $T/rbac/secrets-get-only "manifests/200-rbac.yaml gives these verbs on Secrets \
(ClusterRoles, then Roles without resourceNames): $verbs, want [\"get\"] [\"create\"]"
fi
# The identity everything above ran as: it may get a Secret but not list or watch them...
as_ctl=(--as "system:serviceaccount:$NS:$CTL_SA")
can=$(for v in get list watch; do k auth can-i "$v" secrets "${as_ctl[@]}" 2>/dev/null || true; done | tr '\n' ' ')
if [ "$can" = "yes no no " ]; then
    ok $T/rbac/identity
else
    not_ok $T/rbac/identity "the controller's ServiceAccount may get/list/watch Secrets: $can(want yes no no)"
fi
# ...and the controller was refused nothing (a list of Secrets would have been).
refused=$(grep -iE '"code":40[13]|forbidden' "$TEKTITE_LOG" | head -n 3)
if [ -z "$refused" ] && [ -s "$TEKTITE_LOG" ]; then
    ok $T/rbac/nothing-refused
else
    not_ok $T/rbac/nothing-refused "the controller logged refused requests: ${refused:-empty log}"
fi
