# sbd-scan: the SARIF schema test validates with Python's jsonschema (under CI it fails, rather
# than skips, when jsonschema is missing).
if ! python3 -c "import jsonschema" >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check jsonschema || echo "pip install jsonschema failed"
fi
