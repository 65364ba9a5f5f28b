# Python packages for the model export check (crates/sbd-model/tests/export_numpy.rs reads our
# Hugging Face export with safetensors + numpy). The test skips with a reason when they are
# missing, so a failed install is reported but not fatal.
if python3 -c 'import numpy, safetensors.numpy' 2>/dev/null; then
  echo "numpy and safetensors present"
else
  { pip install --quiet numpy safetensors 2>/dev/null \
      || pip install --quiet --break-system-packages numpy safetensors; } >/tmp/sbd-model-deps.log 2>&1 \
    && echo "numpy and safetensors installed" \
    || { echo "pip install numpy safetensors failed; the export check will skip"; tail -3 /tmp/sbd-model-deps.log; }
fi
