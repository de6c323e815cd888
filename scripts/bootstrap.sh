#!/usr/bin/env bash
# Create .venv/ with a Python 3.8-3.10 interpreter (NNabla 1.39 has wheels for those only) and install
# nnsurgeon with its test and ONNX extras (NNabla's ONNX converter without its TensorFlow requirements). Idempotent: does nothing when .venv is current.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.nnsurgeon-installed"

is_supported() {  # prints the interpreter's version and succeeds when it is 3.8, 3.9 or 3.10
    "$1" -c 'import sys; v=sys.version_info[:2]; print("%d.%d" % v); sys.exit(0 if (3, 8) <= v <= (3, 10) else 1)' 2>/dev/null
}

find_python() {
    local candidates=()
    [ -n "${NNSURGEON_PYTHON:-}" ] && candidates+=("$NNSURGEON_PYTHON")
    local v root
    for v in 3.10 3.9 3.8; do
        command -v "python$v" >/dev/null 2>&1 && candidates+=("$(command -v "python$v")")
    done
    root="${PYENV_ROOT:-}"
    [ -z "$root" ] && command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null || true)"
    [ -z "$root" ] && root="$HOME/.pyenv"
    for v in 3.10 3.9 3.8; do
        # newest patch release first
        for p in $(ls -d "$root"/versions/"$v".*/bin/python 2>/dev/null | sort -rV); do candidates+=("$p"); done
        for p in /usr/bin/python"$v" /usr/local/bin/python"$v" /opt/python/"$v"*/bin/python; do
            [ -x "$p" ] && candidates+=("$p")
        done
    done
    local c
    for c in "${candidates[@]}"; do
        if [ -x "$c" ] && is_supported "$c" >/dev/null; then echo "$c"; return 0; fi
    done
    return 1
}

if [ -x "$VENV/bin/python" ] && ! is_supported "$VENV/bin/python" >/dev/null; then
    echo "bootstrap: $VENV uses an unsupported Python; recreating it" >&2
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! PY="$(find_python)"; then
        echo "Error: no Python 3.8-3.10 interpreter found (NNabla 1.39 has wheels for those only). Install one, e.g. 'pyenv install 3.10', or set NNSURGEON_PYTHON=/path/to/python3.10, then run this again." >&2
        exit 2
    fi
    echo "bootstrap: creating $VENV with $PY ($(is_supported "$PY"))" >&2
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo "bootstrap: installing nnsurgeon and its dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test,onnx]'
    # NNabla's ONNX converter classes need only onnx; the package's own requirements pull in TensorFlow.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps nnabla-converter==1.39.0
    touch "$STAMP"
fi
# The page tests drive Debian's Chromium through selenium; install it when we can (root with apt-get).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing chromium and chromium-driver for the page tests" >&2
        apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium chromium-driver >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium chromium-driver >/dev/null 2>&1; } \
            || echo "bootstrap: could not install chromium; the page tests will be skipped" >&2
    else
        echo "bootstrap: chromium/chromedriver missing (as root: apt-get install -y chromium chromium-driver); the page tests will be skipped" >&2
    fi
fi
