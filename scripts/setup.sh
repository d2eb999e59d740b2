#!/usr/bin/env bash
# Installs everything edgert needs on a fresh Debian 12 machine. Idempotent; quiet when done.
# Usage: scripts/setup.sh [--no-python]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

APT_PKGS=(
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev lld-14
  libflatbuffers-dev flatbuffers-compiler flatbuffers-compiler-dev
  libabsl-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  libcpuinfo-dev libpthreadpool-dev libdnnl-dev libxnnpack-dev
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  libsimde-dev pybind11-dev
  python3-venv python3-dev python3-torch python3-numpy
)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--no-python" ]; then
  venv="$here/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating Python venv in .venv (Debian python3, system site packages for torch)"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  stamp="$venv/.requirements.sha"
  want=$(cat "$here/tools/requirements.txt" "$here/tools/requirements-nodeps.txt" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing pinned Python packages (tools/requirements*.txt)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/tools/requirements.txt"
    # Packages that declare deps we must not pull (PyPI torch etc.): see the file's header.
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$here/tools/requirements-nodeps.txt"
    echo "$want" > "$stamp"
  fi
fi
