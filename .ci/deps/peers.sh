# Peer tools for the accuracy harness and its tests: bandit, codeshield (ICD) with semgrep in a
# venv at ~/.cache/sbd-peers; cppcheck and flawfinder from Debian. Tests that need a peer skip
# with a reason when it is missing, so a failed install is reported but not fatal.
if [ -f ../shared/tools/install-peers.sh ]; then
  bash ../shared/tools/install-peers.sh >/tmp/sbd-peers-install.log 2>&1 \
    && echo "peers installed" \
    || { echo "peer install failed (see below); peer tests will skip"; tail -5 /tmp/sbd-peers-install.log; }
else
  echo "../shared/tools/install-peers.sh is absent; peer tests will skip"
fi
