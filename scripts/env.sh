# Sourced by the scripts: toolchain on PATH and a build cache outside the clone, so a fresh
# clone on a machine that built before does not rebuild every dependency.
for d in "$HOME/.cargo/bin" /root/.cargo/bin; do [ -d "$d" ] && PATH="$d:$PATH"; done
export PATH
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/linkplane/target}"
mkdir -p "$CARGO_TARGET_DIR" 2>/dev/null || export CARGO_TARGET_DIR="$PWD/target"
