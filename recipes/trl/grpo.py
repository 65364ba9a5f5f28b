"""GRPO with the verifier as reward (TRL). Usage:

    SBD_URL=... SBD_TOKEN=... python grpo.py MODEL_NAME_OR_PATH prompts.jsonl OUTPUT_DIR

`prompts.jsonl` rows: {"prompt": ..., "language": ..., "cwe": ...} — e.g. `sbd data export
--format rl`. Needs `trl`, `datasets` and `requests`.
"""
import sys

from datasets import load_dataset
from trl import GRPOConfig, GRPOTrainer

from sbd_reward import sbd_reward


def main(model, prompts, output):
    ds = load_dataset("json", data_files=prompts, split="train")
    args = GRPOConfig(output_dir=output, num_generations=8, max_completion_length=512, logging_steps=10)
    GRPOTrainer(model=model, reward_funcs=[sbd_reward], args=args, train_dataset=ds).train()


if __name__ == "__main__":
    main(*sys.argv[1:4])
