#!/usr/bin/env bash
# change.sh [TEXT]: the walkthrough's "one-line change": commit a new greeting to the sample app
# in the bare repository serve.sh serves (only src/ changes, so pom.xml-keyed layers stay
# valid). Prints the new commit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
LC_PROG=demo-change
REPO=$LC_STATE/demo/git/sample-app.git
[ -d "$REPO" ] || lc_die "no repository at $REPO (run hack/demo/serve.sh start)"
export GIT_AUTHOR_NAME=tektite-demo GIT_AUTHOR_EMAIL=demo@tektite.invalid
export GIT_COMMITTER_NAME=tektite-demo GIT_COMMITTER_EMAIL=demo@tektite.invalid
text=${1:-hello from tektite, change at $(date -u +%H:%M:%S.%N)}
case $text in *'"'* | *'\'* | *'|'*) lc_die "the text may not contain \", \\ or |" ;; esac
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
git clone -q "$REPO" "$t/w"
f=$t/w/sample-app/src/main/java/dev/tektite/demo/App.java
sed -i "s|static final String GREETING = \".*\";|static final String GREETING = \"$text\";|" "$f"
git -C "$t/w" diff --quiet && lc_die "the greeting is already '$text'"
git -C "$t/w" commit -q -am "sample app: greeting '$text'"
git -C "$t/w" push -q origin HEAD:main
git -C "$t/w" rev-parse HEAD
