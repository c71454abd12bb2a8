#!/usr/bin/env bash
# Dynamic provisioning: a PVC with no storageClassName gets the default class (local-path),
# is provisioned on demand when its first pod is scheduled, and data one pod writes a second
# pod reads back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init

check storage/default-storageclass sh -c \
    "'$KUBECTL' get storageclass -o jsonpath='{range .items[*]}{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}{\"\n\"}{end}' | grep -qx true"

k create -f - > /dev/null <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
YAML
vol='{"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"data"}}],"_mounts":[{"name":"d","mountPath":"/data"}]}'
token=$RANDOM$RANDOM
# WaitForFirstConsumer: the claim binds only once the writer is scheduled, so wait on the pod.
run_pod writer mirror.gcr.io/busybox "echo $token > /data/token && echo written" "$vol"
expect_pod_output storage/pvc-provisioned-and-written writer 180 written
if [ "$(k get pvc data -o jsonpath='{.status.phase}')" = Bound ]; then
    ok storage/pvc-bound
else
    not_ok storage/pvc-bound "claim 'data' is $(k get pvc data -o jsonpath='{.status.phase}')"
fi
run_pod reader mirror.gcr.io/ubuntu "cat /data/token" "$vol"
expect_pod_output storage/second-pod-reads-data reader 120 "$token"
