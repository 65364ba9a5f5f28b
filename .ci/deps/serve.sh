# Python `requests` for the trainer-recipe tests of sbd serve (recipes/).
python3 -c "import requests" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check requests \
  || echo "pip install requests failed; the recipe tests will skip"
