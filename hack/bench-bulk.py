#!/usr/bin/env python3
"""bench-bulk.py NAMESPACE PREFIX COUNT [completed|create] < TASKRUN_JSON_TEMPLATE

Many TaskRuns through the API server quickly, for hack/bench-compare.sh (kubectl spends a
process and a round trip per object: far too slow for 10,000). The template is one TaskRun as
JSON without a name; object i is named PREFIX-i. Runs THREADS (8) keep-alive connections with
the client certificate of $KUBECONFIG (the admin kubeconfig: *-data fields).

  create     POST each run; nothing else (a controller that runs will run them)
  completed  POST each run, then PATCH its status subresource to a final Succeeded, as a run
             that finished long ago looks (conditions, start and completion time, one terminated
             step). No Pod: the run was finished before any controller saw it.

Prints "created N, failed M, S s" on stderr; exits 1 if any request failed (each failure says
which object and why, the first 5 of them).
"""
import base64
import copy
import http.client
import json
import os
import re
import ssl
import sys
import tempfile
import threading
import time

THREADS = int(os.environ.get("BENCH_BULK_THREADS", "8"))


def kubeconfig():
    """server, and temp files for CA, cert and key, from the *-data fields of $KUBECONFIG."""
    text = open(os.environ.get("KUBECONFIG", "/etc/kubernetes/admin.kubeconfig")).read()

    def field(name):
        m = re.search(r"^\s*%s:\s*(\S+)\s*$" % re.escape(name), text, re.M)
        if not m:
            sys.exit("bench-bulk: no %s in the kubeconfig (want a client-certificate kubeconfig)" % name)
        return m.group(1)

    d = tempfile.mkdtemp(prefix="bench-bulk-")
    paths = {}
    for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
        p = os.path.join(d, key)
        with open(p, "wb") as f:
            f.write(base64.b64decode(field(key)))
        os.chmod(p, 0o600)
        paths[key] = p
    return field("server"), paths, d


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    ns, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) == 5 else "create"
    if mode not in ("create", "completed"):
        sys.exit("bench-bulk: mode must be create or completed, not %r" % mode)
    template = json.load(sys.stdin)
    template.get("metadata", {}).pop("namespace", None)  # the URL's namespace is the one
    server, paths, tmpdir = kubeconfig()
    m = re.match(r"https://([^:/]+):?(\d+)?", server)
    host, port = m.group(1), int(m.group(2) or 443)
    ctx = ssl.create_default_context(cafile=paths["certificate-authority-data"])
    ctx.load_cert_chain(paths["client-certificate-data"], paths["client-key-data"])
    for p in paths.values():
        os.unlink(p)
    os.rmdir(tmpdir)
    base = "/apis/tekton.dev/v1/namespaces/%s/taskruns" % ns
    errors = []
    done = [0]
    lock = threading.Lock()

    def request(conn, method, path, body, ctype):
        conn.request(method, path, body=json.dumps(body), headers={"Content-Type": ctype})
        r = conn.getresponse()
        data = r.read()
        return r.status, data

    def worker(first):
        conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=60)
        for i in range(first, count + 1, THREADS):
            name = "%s-%d" % (prefix, i)
            obj = copy.deepcopy(template)
            obj.setdefault("metadata", {})["name"] = name
            try:
                st, data = request(conn, "POST", base, obj, "application/json")
                if st != 201:
                    raise RuntimeError("create: HTTP %d: %s" % (st, data[:300].decode(errors="replace")))
                if mode == "completed":
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    status = {"status": {
                        "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded",
                                        "message": "All Steps have completed executing",
                                        "lastTransitionTime": now}],
                        "startTime": now, "completionTime": now,
                        "steps": [{"name": "s", "container": "step-s", "terminated": {
                            "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}],
                        "taskSpec": obj["spec"].get("taskSpec", {})}}
                    st, data = request(conn, "PATCH", "%s/%s/status" % (base, name), status,
                                       "application/merge-patch+json")
                    if st != 200:
                        raise RuntimeError("status: HTTP %d: %s" % (st, data[:300].decode(errors="replace")))
                with lock:
                    done[0] += 1
            except (OSError, http.client.HTTPException, RuntimeError) as e:
                with lock:
                    errors.append("%s: %s" % (name, e))
                conn.close()
                conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=60)
        conn.close()

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k + 1,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors[:5]:
        print("bench-bulk: %s" % e, file=sys.stderr)
    print("bench-bulk: created %d, failed %d, %.1f s" % (done[0], len(errors), time.time() - t0), file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
