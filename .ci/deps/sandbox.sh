# Dependencies of sbd-sandbox's tests (sourced by .ci/run as root on Debian bookworm).
# gcc, g++, python3, node, java and rustc are already present; valgrind is not needed by the
# tests. Frama-C's EVA backs `sbd verify-formal` (CBMC is not packaged for bookworm).
# Idempotent: installs only what is missing (about 20 s and ~100 MB when it has to).
if ! command -v frama-c >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends frama-c-base >/dev/null
fi
frama-c -version
