"""OpenRLHF remote reward model backed by `sbd serve`. Standard library only.

    python sbd_remote_rm.py --port 5000 --sbd-url http://127.0.0.1:8080 --token-file tokens.txt
    # then train with: --remote_rm_url http://127.0.0.1:5000/get_reward

OpenRLHF POSTs {"query": [prompt + response, ...], "prompts": [prompt, ...], "labels": [...]}
and reads {"rewards": [...]}. The response is the query with its prompt removed. A label may be
a JSON object (or a JSON string of one) carrying `language`, `cwe`, `override_expectation` and
`explanation_expected`; otherwise --language is used.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def items_for(body, default_language):
    queries = body.get("query") or []
    prompts = body.get("prompts") or [""] * len(queries)
    labels = body.get("labels") or [None] * len(queries)
    items = []
    for i, q in enumerate(queries):
        prompt = prompts[i] if i < len(prompts) else ""
        completion = q[len(prompt):] if prompt and q.startswith(prompt) else q
        label = labels[i] if i < len(labels) else None
        if isinstance(label, str):
            try:
                label = json.loads(label)
            except ValueError:
                label = None
        label = label if isinstance(label, dict) else {}
        expectations = {k: label[k] for k in ("cwe", "override_expectation", "explanation_expected") if k in label}
        items.append({"prompt": prompt, "completion": completion,
                      "language": label.get("language", default_language), "expectations": expectations})
    return items


def forward(items, url, token, timeout):
    data = json.dumps({"items": items}).encode()
    for attempt in range(5):
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return [r["reward"] for r in json.load(resp)["rewards"]]
        except urllib.error.HTTPError as e:
            if e.code == 429 and attempt < 4:
                time.sleep(float(e.headers.get("Retry-After", "1")))
                continue
            raise
    raise RuntimeError("sbd serve kept answering 429")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--sbd-url", default="http://127.0.0.1:8080")
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--language", default="python")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    token = open(args.token_file).read().split()[0]
    url = args.sbd_url.rstrip("/") + "/v1/reward"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/get_reward":
                self.send_error(404, "POST /get_reward")
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                rewards = forward(items_for(body, args.language), url, token, args.timeout)
                out = json.dumps({"rewards": rewards, "scores": rewards}).encode()
                self.send_response(200)
            except Exception as e:  # tell the trainer what went wrong
                out = json.dumps({"error": f"{type(e).__name__}: {e}"}).encode()
                self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, fmt, *a):
            sys.stderr.write("sbd_remote_rm: " + fmt % a + "\n")

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"sbd_remote_rm: listening on http://{server.server_address[0]}:{server.server_address[1]}/get_reward", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
