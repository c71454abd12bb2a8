#!/usr/bin/env bash
# serve.sh start|stop|status|reset: the node-side services of the image-build walkthrough, all bound to
# the node IP ($NODE_IP, on lo: pods reach it through cni0, nothing outside the machine does):
#   git://$NODE_IP:9418/sample-app.git  `git daemon` serving a bare repository whose sample-app/
#                                        directory is hack/demo/sample-app (first commit)
#   http://$NODE_IP:8081/                busybox httpd serving the Maven mirror (maven-mirror.sh)
#   $NODE_IP:5001                        a writable registry for pods (kaniko pushes images and its
#                                        layer cache here). It shares the storage of the host's
#                                        127.0.0.1:5000, so what pods push is pulled by name there
#                                        too; the node's :5000 instance is read-only by design.
# Each process is recorded in $LC_RUN/demo-*.pid like cluster-up.sh's components; `stop` ends
# only those. `start` is idempotent: live services are left alone. `reset` puts the repository back
# to one commit of the current hack/demo/sample-app (undoing change.sh's commits).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
LC_PROG=demo-serve

DEMO_STATE=$LC_STATE/demo
GIT_BASE=$DEMO_STATE/git
REPO=$GIT_BASE/sample-app.git
GIT_PORT=9418 MAVEN_PORT=8081 PUSH_PORT=5001
export GIT_AUTHOR_NAME=tektite-demo GIT_AUTHOR_EMAIL=demo@tektite.invalid
export GIT_COMMITTER_NAME=tektite-demo GIT_COMMITTER_EMAIL=demo@tektite.invalid

# launch NAME CMD...: start CMD detached (exec_detached: no inherited descriptors, so no lock
# held by a service that outlives its caller), logging to $LC_LOG/NAME.log, and record its pid.
launch() {
    local n=$1
    shift
    pid_alive "$n" && return 0
    (exec_detached "$@") >> "$LC_LOG/$n.log" 2>&1 < /dev/null &
    pid_record "$n" $!
}

# The bare repository: created once from the sources in this tree; change.sh adds commits.
make_repo() {
    local t
    [ -d "$REPO" ] && return 0
    t=$(mktemp -d)
    mkdir -p "$t/src" "$GIT_BASE"
    cp -r "$here/sample-app" "$t/src/sample-app"
    git -C "$t/src" init -q -b main
    git -C "$t/src" add -A
    git -C "$t/src" commit -q -m 'sample app: a Maven project with a multi-stage Dockerfile'
    git clone -q --bare "$t/src" "$REPO.partial"
    touch "$REPO.partial/git-daemon-export-ok"
    mv "$REPO.partial" "$REPO"
    rm -rf "$t"
}

start() {
    local mirror
    [ "$(id -u)" = 0 ] || lc_die "must run as root"
    ip -4 addr show dev lo | grep -q "inet $NODE_IP/" || lc_die "$NODE_IP is not on lo (is the cluster up?)"
    mkdir -p "$LC_RUN" "$LC_LOG" "$DEMO_STATE"
    make_repo
    mirror=$("$here/maven-mirror.sh")
    cat > "$DEMO_STATE/registry-push.yml" <<EOC
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $LC_CACHE/registry}
  cache: {blobdescriptor: inmemory}
http:
  addr: $NODE_IP:$PUSH_PORT
  headers: {X-Content-Type-Options: [nosniff]}
EOC
    launch demo-git git daemon --reuseaddr --listen="$NODE_IP" --port="$GIT_PORT" \
        --base-path="$GIT_BASE" --export-all "$GIT_BASE"
    launch demo-maven busybox httpd -f -p "$NODE_IP:$MAVEN_PORT" -h "$mirror"
    launch demo-registry docker-registry serve "$DEMO_STATE/registry-push.yml"
    wait_for 20 "git daemon" git ls-remote "git://$NODE_IP:$GIT_PORT/sample-app.git" ||
        { show_log demo-git; exit 1; }
    wait_for 20 "maven mirror" curl -sf "http://$NODE_IP:$MAVEN_PORT/org/apache/commons/commons-lang3/3.14.0/commons-lang3-3.14.0.pom" ||
        { show_log demo-maven; exit 1; }
    wait_for 20 "push registry" curl -sf "http://$NODE_IP:$PUSH_PORT/v2/" ||
        { show_log demo-registry; exit 1; }
    lc_say "git://$NODE_IP:$GIT_PORT/sample-app.git, http://$NODE_IP:$MAVEN_PORT/ (maven), $NODE_IP:$PUSH_PORT (registry) ready"
}

stop() {
    local n pid
    for n in demo-registry demo-maven demo-git; do
        if pid=$(pid_of "$n"); then
            kill "$pid" 2>/dev/null || true
            lc_say "stopped $n ($pid)"
        fi
        rm -f "$LC_RUN/$n.pid"
    done
}

status() {
    local n rc=0
    for n in demo-git demo-maven demo-registry; do
        if pid_alive "$n"; then echo "$n: running ($(pid_of "$n"))"; else echo "$n: stopped"; rc=1; fi
    done
    return $rc
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    reset) rm -rf "$REPO"; make_repo; lc_say "$REPO reset to $(git -C "$REPO" rev-parse main)" ;;
    *) lc_die "usage: serve.sh start|stop|status|reset" ;;
esac
