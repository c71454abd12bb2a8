#!/usr/bin/env bash
# The upstream Tekton TaskRun and PipelineRun examples (../shared/conformance) against tektite,
# by the conformance README's criterion; beta examples with enable-api-fields=beta, as upstream.
# Against tektite installed in the cluster by `make deploy`, as a user installs it
# (CONFORMANCE_CONTROLLER=host runs it on the host instead, which is quicker to iterate on).
# Either watches every namespace (each example gets its own), so the whole file holds the
# exclusive cluster lock.
# e2e-timeout: 1800
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/tektite.sh"

exec 9> /tmp/tektite-cluster.lock
if ! flock -x -w 2400 9; then
    not_ok conformance/lock "the exclusive cluster lock was not free within 2400s"
    exit 1
fi
if [ "${CONFORMANCE_CONTROLLER:-deployed}" = host ]; then
    if ! tektite_start; then
        not_ok conformance/start "tektite did not start"
        exit 1
    fi
elif tektite_deploy; then
    ok conformance/deploy
else
    not_ok conformance/deploy "make deploy failed"
    exit 1
fi
tektite_feature_flags enable-api-fields=beta
"$here/conformance.sh" taskruns
"$here/conformance.sh" pipelineruns
