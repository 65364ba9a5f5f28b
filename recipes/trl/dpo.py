"""DPO on secure/insecure pairs exported by `sbd data export --format dpo` (TRL). Usage:

    python dpo.py MODEL_NAME_OR_PATH pairs.jsonl OUTPUT_DIR

Rows: {"prompt": ..., "chosen": <secure answer>, "rejected": <insecure answer>}. Needs `trl`
and `datasets`.
"""
import sys

from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer


def main(model_name, pairs, output):
    model = AutoModelForCausalLM.from_pretrained(model_name)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    ds = load_dataset("json", data_files=pairs, split="train")
    args = DPOConfig(output_dir=output, beta=0.1, logging_steps=10)
    DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer).train()


if __name__ == "__main__":
    main(*sys.argv[1:4])
