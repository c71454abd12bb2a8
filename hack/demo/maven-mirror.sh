#!/usr/bin/env bash
# maven-mirror.sh: fill the Maven repository that stands in for Maven Central inside the cluster.
# Runs, on the host, what the sample app's Dockerfile runs (dependency:go-offline, then package)
# with Debian's maven (the same 3.8.7 the build image carries, so the same default plugins) and a
# local repository under $LC_CACHE, resolved from Maven Central. That directory is then laid out
# as a remote repository: group metadata under the plain maven-metadata.xml name and a .sha1
# beside every file, and hack/demo/serve.sh serves it over HTTP on the node.
# The directory is keyed by a hash of pom.xml and the Maven version: a changed pom gets a fresh
# mirror, an unchanged one is reused without touching the network.
# Prints the mirror directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
LC_PROG=maven-mirror

app=$here/sample-app
command -v mvn > /dev/null || lc_die "mvn not found (apt-get install maven openjdk-17-jdk-headless)"
mvn_version=$(dpkg-query -W -f='${Version}' maven 2>/dev/null || echo unknown)
key=$( (cat "$app/pom.xml"; echo "$mvn_version") | sha256sum | cut -c1-12)
out=$LC_CACHE/demo/maven-mirror-$key
if [ -f "$out/.complete" ]; then
    echo "$out"
    exit 0
fi
rm -rf "$out.partial" "$LC_CACHE/demo/maven-build-$key"
mkdir -p "$out.partial" "$LC_CACHE/demo"
t0=$SECONDS
# Build a copy, so target/ never lands in the source tree.
cp -r "$app" "$LC_CACHE/demo/maven-build-$key"
(
    cd "$LC_CACHE/demo/maven-build-$key"
    mvn -B -q -Dmaven.repo.local="$out.partial" dependency:go-offline package
) > "$LC_LOG/maven-mirror.log" 2>&1 ||
    { tail -30 "$LC_LOG/maven-mirror.log" >&2; lc_die "maven could not resolve the sample app (log: $LC_LOG/maven-mirror.log)"; }
rm -rf "$LC_CACHE/demo/maven-build-$key"
(
    cd "$out.partial"
    # what the local repository says about itself is no business of a remote one
    find . \( -name '_remote.repositories' -o -name '*.lastUpdated' -o -name 'resolver-status.properties' \) -delete
    # maven-metadata-central.xml is how a local repository names the metadata it got from central
    find . -name 'maven-metadata-central.xml' | while read -r f; do
        cp "$f" "${f%-central.xml}.xml"
    done
    find . -type f \( -name '*.jar' -o -name '*.pom' -o -name 'maven-metadata.xml' \) | while read -r f; do
        sha1sum "$f" | cut -d' ' -f1 | tr -d '\n' > "$f.sha1"
    done
)
touch "$out.partial/.complete"
rm -rf "$out"
mv "$out.partial" "$out"
lc_say "mirror filled in $((SECONDS - t0))s: $(find "$out" -name '*.jar' | wc -l) jars, $(du -sh "$out" | cut -f1)"
echo "$out"
