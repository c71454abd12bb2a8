#!/usr/bin/env bash
# The upstream Tekton TaskRun and PipelineRun examples (../shared/conformance) against tektite,
# by the conformance README's criterion; beta examples with enable-api-fields=beta, as upstream.
# e2e-timeout: 1500
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/tektite.sh"

if ! tektite_start; then
    not_ok conformance/start "tektite did not start"
    exit 1
fi
tektite_feature_flags enable-api-fields=beta
"$here/conformance.sh" taskruns
"$here/conformance.sh" pipelineruns
