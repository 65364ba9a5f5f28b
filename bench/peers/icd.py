"""Runs Meta's Insecure Code Detector (pip package `codeshield`) on samples for `sbd bench accuracy`.

Reads JSON Lines {"id", "language", "code"} on stdin and writes one JSON line per sample:
{"id", "findings": [{"rule", "cwe", "line"}]} or {"id", "error"}. Samples run concurrently
(--jobs, default 2) because each analysis starts semgrep/weggli subprocesses.
"""
import argparse
import asyncio
import json
import sys

from codeshield.insecure_code_detector import insecure_code_detector as icd
from codeshield.insecure_code_detector.languages import Language
from codeshield.insecure_code_detector.usecases import UseCase

LANGS = {lang.value: lang for lang in Language}


async def one(sem, item):
    async with sem:
        lang = LANGS.get(item["language"])
        if lang is None:
            return {"id": item["id"], "findings": [], "unsupported": True}
        try:
            issues = await icd.analyze(lang, item["code"], None, None, None, UseCase.CYBERSECEVAL)
        except Exception as exc:  # report, never hide, a failure of the peer
            return {"id": item["id"], "error": f"{type(exc).__name__}: {exc}"}
        return {
            "id": item["id"],
            "findings": [
                {"rule": str(i.pattern_id or i.name or i.rule), "cwe": str(i.cwe_id or ""), "line": int(i.line or 0)}
                for i in issues
            ],
        }


async def main(jobs):
    items = [json.loads(line) for line in sys.stdin if line.strip()]
    sem = asyncio.Semaphore(jobs)
    tasks = [asyncio.create_task(one(sem, it)) for it in items]
    for t in tasks:
        print(json.dumps(await t), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    asyncio.run(main(ap.parse_args().jobs))
