# Python `requests` for the trainer-recipe tests of sbd serve (recipes/).
python3 -c "import requests" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check requests \
  || echo "pip install requests failed; the recipe tests will skip"
# The official `openai` Python client for the generation-endpoint test of `sbd serve --model`.
python3 -c "import openai" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check openai \
  || echo "pip install openai failed; the openai client part of the serve test will skip"
