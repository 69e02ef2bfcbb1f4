"""What the fine-tuning scripts share (bench/train_reader.py, bench/train_extractor.py; the word list too).

Unlike ``_common.py`` this sets no torch thread count: training uses every core.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "squad-train-v1.1.reconstructed.json"


def optimiser(params, lr: float, steps: int):
    """AdamW with a one-cycle learning rate (10% warm-up) over ``steps`` steps: ``(optimizer, scheduler)``."""
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)


def step(opt, sched, loss, n: int, steps: int, started: float) -> None:
    """One optimisation step on ``loss``; the loss and the time so far every 100 steps, on stderr."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if n % 100 == 0:
        print(f"step {n}/{steps} loss {loss.item():.3f} {time.time() - started:.0f}s", file=sys.stderr, flush=True)
