"""Reward function for TRL's GRPOTrainer backed by `sbd serve` (POST /v1/reward).

    from sbd_reward import sbd_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[sbd_reward], train_dataset=ds, ...)

TRL calls reward functions as f(prompts, completions, **columns) and expects one float per
completion. Completions may be strings or chat messages (a list of {"role", "content"}); the
last message's content is scored. Per-row dataset columns used when present: `language`
(default $SBD_LANGUAGE or "python"), `cwe`, `override_expectation` ("required", "refuse",
"none") and `explanation_expected`.

Environment: SBD_URL (default http://127.0.0.1:8080), SBD_TOKEN (bearer token),
SBD_TIMEOUT (seconds, default 60), SBD_BATCH (items per request, default 256).
"""
import os

import requests

_session = requests.Session()


def _text(completion):
    if isinstance(completion, list):
        return str(completion[-1].get("content", "")) if completion else ""
    return str(completion)


def _prompt(prompt):
    if isinstance(prompt, list):
        return "\n".join(str(m.get("content", "")) for m in prompt)
    return None if prompt is None else str(prompt)


def _column(columns, name, i):
    values = columns.get(name)
    if values is None:
        return None
    try:
        return values[i]
    except (IndexError, TypeError):
        return None


def items_for(prompts, completions, **columns):
    """The /v1/reward items for a TRL batch (exposed for tests and other trainers)."""
    default_language = os.environ.get("SBD_LANGUAGE", "python")
    items = []
    for i, completion in enumerate(completions):
        expectations = {}
        cwe = _column(columns, "cwe", i)
        if cwe is not None:
            expectations["cwe"] = int(str(cwe).upper().replace("CWE-", ""))
        ov = _column(columns, "override_expectation", i)
        if ov:
            expectations["override_expectation"] = ov
        ee = _column(columns, "explanation_expected", i)
        if ee is not None:
            expectations["explanation_expected"] = bool(ee)
        items.append({
            "prompt": _prompt(prompts[i]) if prompts is not None and i < len(prompts) else None,
            "completion": _text(completion),
            "language": _column(columns, "language", i) or default_language,
            "expectations": expectations,
        })
    return items


def sbd_reward(prompts, completions, **columns):
    url = os.environ.get("SBD_URL", "http://127.0.0.1:8080").rstrip("/") + "/v1/reward"
    headers = {"Authorization": "Bearer " + os.environ.get("SBD_TOKEN", "")}
    timeout = float(os.environ.get("SBD_TIMEOUT", "60"))
    batch = int(os.environ.get("SBD_BATCH", "256"))
    items = items_for(prompts, completions, **columns)
    rewards = []
    for start in range(0, len(items), batch):
        resp = _session.post(url, json={"items": items[start:start + batch]}, headers=headers, timeout=timeout)
        if resp.status_code == 429:
            # Back-pressure: wait as told, then retry once.
            import time
            time.sleep(float(resp.headers.get("Retry-After", "1")))
            resp = _session.post(url, json={"items": items[start:start + batch]}, headers=headers, timeout=timeout)
        resp.raise_for_status()
        rewards.extend(r["reward"] for r in resp.json()["rewards"])
    return rewards
