# Debian's Chromium for the headless-browser check of `sbd scan --html` (about 1 minute on a
# fresh machine; instant when present). The test skips with a reason if this fails.
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "chromium install failed; the browser check will skip"
fi
