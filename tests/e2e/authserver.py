#!/usr/bin/env python3
"""authserver.py: the two small HTTP servers tests/e2e/registry_auth_test.sh needs, each behind
HTTP basic auth with one user. Standard library only, plus the openssl command for signing.

  authserver.py token ADDR PORT USER PASSWORD KEY CERT ISSUER SERVICE
      A Docker registry token server (the "token" auth of docker-registry 2.x): GET /token with
      ?service=SERVICE&scope=repository:NAME:ACTIONS returns {"token","access_token",
      "expires_in"}, a JWT signed RS256 with KEY, its certificate CERT in the x5c header (the
      registry trusts CERT through its rootcertbundle). Right credentials get every action asked
      for; no credentials get a token granting nothing (as Docker Hub's anonymous tokens);
      wrong credentials get 401. containerd POSTs an OAuth2 password-grant form instead, which
      is answered the same way.
  authserver.py git ADDR PORT USER PASSWORD ROOT
      git's smart HTTP protocol: git-http-backend as a CGI over the repositories under ROOT,
      every request refused with 401 unless it carries the right credentials.

Every request is logged to stderr with the user it authenticated as, so a test can tell which
credentials arrived. Runs until killed.
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cfg = {}

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))
        sys.stderr.flush()

    def credentials(self, form=None):
        """'ok', 'none' or 'bad': what the request's basic credentials (or, for an OAuth2
        password grant, its form's username and password) are."""
        h = self.headers.get("Authorization", "")
        if form and "username" in form:
            user, password = form["username"][0], form.get("password", [""])[0]
        elif not h.startswith("Basic "):
            return "none"
        else:
            try:
                user, _, password = base64.b64decode(h[6:]).decode().partition(":")
            except ValueError:
                return "bad"
        ok = user == self.cfg["user"] and password == self.cfg["password"]
        return "ok" if ok else "bad"

    def reply(self, code, body, ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def unauthorized(self, why):
        self.log_message("401 %s: %s", self.path, why)
        self.reply(401, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": why}]}).encode(),
                   headers=[("WWW-Authenticate", 'Basic realm="e2e"')])

    # ---- token mode ----

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def token(self, form=None):
        """GET with a query, or containerd's POST of an OAuth2 form (grant_type=password)."""
        url = urllib.parse.urlsplit(self.path)
        q = form if form is not None else urllib.parse.parse_qs(url.query)
        who = self.credentials(form)
        if url.path != "/token":
            return self.reply(404, b'{"error":"not found"}')
        if who == "bad":
            return self.unauthorized("invalid username or password")
        access = []
        scopes = " ".join(q.get("scope", [])).split() if who == "ok" else []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) == 3:
                access.append({"type": parts[0], "name": parts[1],
                               "actions": [a for a in parts[2].split(",") if a]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.cfg["cert_der"]]}
        claims = {"iss": self.cfg["issuer"], "sub": self.cfg["user"] if who == "ok" else "",
                  "aud": q.get("service", [""])[0], "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.cfg["key"]],
                             input=signing_input, capture_output=True, check=True).stdout
        jwt = signing_input.decode() + "." + b64url(sig)
        self.log_message("token for %s (%s): %s", who, self.command, json.dumps(access))
        self.reply(200, json.dumps({"token": jwt, "access_token": jwt, "expires_in": 300,
                                    "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime(now))}).encode())

    # ---- git mode ----

    def git(self):
        who = self.credentials()
        if who != "ok":
            self.body()
            return self.unauthorized("authentication required" if who == "none"
                                     else "invalid username or password")
        url = urllib.parse.urlsplit(self.path)
        body = self.body()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "GIT_PROJECT_ROOT": self.cfg["root"], "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": urllib.parse.unquote(url.path),
               "QUERY_STRING": url.query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": self.cfg["user"],
               "REMOTE_ADDR": self.client_address[0], "GATEWAY_INTERFACE": "CGI/1.1",
               "SERVER_PROTOCOL": "HTTP/1.1"}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = out.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.stdout.partition(b"\n\n")
        code, headers = 200, []
        for line in head.decode(errors="replace").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                code = int(v.split()[0])
            elif k:
                headers.append((k.strip(), v.strip()))
        ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "text/plain")
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        self.log_message("git %s %s as %s: %d", self.command, url.path, self.cfg["user"], code)
        self.reply(code, payload, ctype=ctype, headers=headers)

    def do_GET(self):
        self.token() if self.cfg["mode"] == "token" else self.git()

    def do_POST(self):
        if self.cfg["mode"] == "git":
            self.git()
        else:
            self.token(urllib.parse.parse_qs(self.body().decode()))


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "token" and len(argv) == 10:
        addr, port, user, password, key, cert, issuer, service = argv[2:]
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        Handler.cfg = {"mode": mode, "user": user, "password": password, "key": key,
                       "cert_der": base64.b64encode(der).decode(), "issuer": issuer}
    elif mode == "git" and len(argv) == 7:
        addr, port, user, password, root = argv[2:]
        Handler.cfg = {"mode": mode, "user": user, "password": password, "root": root}
    else:
        sys.exit(__doc__)
    ThreadingHTTPServer((addr, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv)
