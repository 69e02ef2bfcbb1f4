"""What the fine-tuning scripts share (bench/train_reader.py; the word list too):
the word list too): the optimiser, a training step, which weights train, and saving them.

Unlike ``_common.py`` this sets no torch thread count: training uses every core.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "squad-train-v1.1.reconstructed.json"
sys.path.insert(0, str(ROOT))  # the scripts import qa from this checkout


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


def train_top(model, layers: int) -> None:
    """Let only the top ``layers`` transformer layers of ``model.encoder`` and ``model.head`` train."""
    n = model.encoder.config.num_hidden_layers
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("head.") or any(
            name.startswith(f"encoder.encoder.layer.{i}.") for i in range(n - layers, n))


def trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def save_weights(model, path: Path, names: Sequence[str], **metadata: str) -> None:
    """Write the weights ``names`` of ``model`` to ``path`` in float16, with ``metadata``."""
    from safetensors.torch import save_file

    from qa.models.base import BASE_NAME

    state = dict(model.named_parameters())
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: state[n].detach().half().contiguous() for n in names}, str(path),
              metadata={"base": BASE_NAME, **metadata})

