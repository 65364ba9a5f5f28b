# Dependencies of the sbd-data tests (sourced by CI).
# pyarrow reads the Parquet shards in crates/sbd-data/tests/pipeline.rs (pyarrow_reads_the_shards);
# without it that test is skipped with a printed reason.
python3 -c "import pyarrow" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyarrow \
  || echo "pip install pyarrow failed; the pyarrow test will skip"
