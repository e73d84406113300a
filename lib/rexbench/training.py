"""Training a classifier with the SpecReX recipe: cross-entropy, SGD with Nesterov
momentum and a OneCycle learning-rate schedule."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


def set_seed(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def predict(model: nn.Module, X, batch: int = 1024) -> np.ndarray:
    """Class scores for a numpy or tensor batch, in eval mode."""
    model.eval()
    X = torch.as_tensor(X)
    return torch.cat([model(X[i : i + batch]) for i in range(0, len(X), batch)]).numpy()


def train_classifier(
    model: nn.Module,
    X_train,
    y_train,
    X_val,
    y_val,
    epochs: int = 20,
    batch_size: int = 64,
    max_lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    optimizer: str = "sgd",
) -> list[dict]:
    """Train in place; returns per-epoch history (loss and accuracy on train and val).

    ``optimizer``: "sgd" (Nesterov momentum, the SpecReX recipe) or "adam" (AdamW); both
    with a OneCycle schedule peaking at ``max_lr``."""
    set_seed(seed)
    X_train, y_train = torch.as_tensor(X_train), torch.as_tensor(y_train)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    steps = (len(X_train) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress):
        model.train()
        perm = torch.randperm(len(X_train), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(X_train), batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = X_train[idx], y_train[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(idx)
        val_scores = predict(model, X_val)
        val_loss = loss_fn(torch.as_tensor(val_scores), torch.as_tensor(y_val)).item()
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": loss_sum / total,
                "train_accuracy": correct / total,
                "val_loss": val_loss,
                "val_accuracy": float((val_scores.argmax(1) == np.asarray(y_val)).mean()),
            }
        )
    model.eval()
    return history


def save_weights(model: nn.Module, path) -> None:
    """Save a state dict atomically (load it back with :func:`load_weights`)."""
    import io

    from .io import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load weights safely: tensors only, no arbitrary unpickling."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def save_model(model: nn.Module, path) -> None:
    """Save a model's weights (``path``) and constructor arguments (``model.config``, to
    ``path`` + ``.config.json``), atomically; :func:`load_model` rebuilds it."""
    import json
    from pathlib import Path

    from .io import atomic_write_text

    atomic_write_text(Path(str(path) + ".config.json"), json.dumps(model.config, sort_keys=True))
    save_weights(model, path)


def load_model(cls, path) -> nn.Module:
    """Rebuild a ``cls`` model saved by :func:`save_model` (weights loaded with ``weights_only``)."""
    import json
    from pathlib import Path

    cfg = Path(str(path) + ".config.json")
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} is missing: cannot rebuild the model saved at {path}")
    return load_weights(cls(**json.loads(cfg.read_text())), path)
