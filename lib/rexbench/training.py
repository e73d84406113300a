"""Training a classifier with the SpecReX recipe: cross-entropy, SGD with Nesterov
momentum and a OneCycle learning-rate schedule."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


def set_seed(seed: int) -> None:
    """Seed numpy's global generator and torch's default generators.

    Parameters
    ----------
    seed : int
        Seed passed to :func:`numpy.random.seed` and :func:`torch.manual_seed`.
    """
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def predict(model: nn.Module, X, batch: int = 1024) -> np.ndarray:
    """Return a model's class scores for a batch, in eval mode and without gradients.

    The model is switched to eval mode (and left there) and run on slices of ``batch``
    samples; the outputs are concatenated.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning one row of scores per sample.
    X : array_like or torch.Tensor
        Input batch; converted with :func:`torch.as_tensor`.
    batch : int, optional
        Number of samples per forward pass (default 1024).

    Returns
    -------
    numpy.ndarray
        Scores (the model's raw outputs, e.g. logits), shape ``(len(X), n_classes)``.
    """
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
    """Train a classifier in place with cross-entropy and a OneCycle schedule.

    Seeds numpy and torch with ``seed``, then for each epoch shuffles the training set
    (with a generator seeded by ``seed``), takes one optimiser and scheduler step per
    mini-batch, and evaluates on the validation set with :func:`predict`. The model is
    left in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier to train; modified in place.
    X_train, y_train : array_like or torch.Tensor
        Training inputs and integer class labels.
    X_val, y_val : array_like or torch.Tensor
        Validation inputs and integer class labels.
    epochs : int, optional
        Number of passes over the training set (default 20).
    batch_size : int, optional
        Mini-batch size (default 64).
    max_lr : float, optional
        Peak learning rate of the OneCycle schedule (default 0.05).
    momentum : float, optional
        Nesterov momentum for ``"sgd"`` (default 0.9); unused for ``"adam"``.
    weight_decay : float, optional
        Weight decay (default 1e-4).
    seed : int, optional
        Seed for initial state and shuffling (default 0).
    progress : bool, optional
        Show a tqdm progress bar over epochs (default True).
    optimizer : {"sgd", "adam"}, optional
        ``"sgd"``: SGD with Nesterov momentum (the SpecReX recipe); ``"adam"``: AdamW.

    Returns
    -------
    list of dict
        One dict per epoch with keys ``epoch`` (1-based), ``train_loss``,
        ``train_accuracy``, ``val_loss`` and ``val_accuracy``. Training figures are
        averaged over the epoch's mini-batches while the model was updating.

    Raises
    ------
    ValueError
        If ``optimizer`` is neither ``"sgd"`` nor ``"adam"``.
    """
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
    """Save a model's state dict to a file, atomically.

    Load it back with :func:`load_weights`.

    Parameters
    ----------
    model : torch.nn.Module
        Model whose ``state_dict()`` is saved with :func:`torch.save`.
    path : str or os.PathLike
        Destination file.
    """
    import io

    from .io import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load a saved state dict into a model, safely, and put it in eval mode.

    The file is read with ``weights_only=True`` (tensors only, no arbitrary unpickling)
    and mapped to the CPU.

    Parameters
    ----------
    model : torch.nn.Module
        Model with the same architecture as the one saved; modified in place.
    path : str or os.PathLike
        File written by :func:`save_weights`.

    Returns
    -------
    torch.nn.Module
        ``model``, in eval mode.

    Raises
    ------
    RuntimeError
        If the state dict's keys or shapes do not match ``model``.
    """
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def save_model(model: nn.Module, path) -> None:
    """Save a model's weights and constructor arguments, atomically.

    The weights go to ``path`` and ``model.config`` (the constructor's keyword
    arguments) to ``path`` + ``.config.json``; :func:`load_model` rebuilds the model.

    Parameters
    ----------
    model : torch.nn.Module
        Model with a JSON-serialisable ``config`` mapping.
    path : str or os.PathLike
        Destination of the weights.

    Raises
    ------
    AttributeError
        If ``model`` has no ``config`` attribute.
    """
    import json
    from pathlib import Path

    from .io import atomic_write_text

    atomic_write_text(Path(str(path) + ".config.json"), json.dumps(model.config, sort_keys=True))
    save_weights(model, path)


def load_model(cls, path) -> nn.Module:
    """Rebuild a model saved by :func:`save_model`.

    Constructs ``cls(**config)`` from ``path`` + ``.config.json`` and loads the weights
    with :func:`load_weights` (``weights_only``).

    Parameters
    ----------
    cls : type
        Model class to instantiate.
    path : str or os.PathLike
        File the weights were saved to.

    Returns
    -------
    torch.nn.Module
        The rebuilt model, in eval mode.

    Raises
    ------
    FileNotFoundError
        If the ``.config.json`` file next to ``path`` is missing.
    """
    import json
    from pathlib import Path

    cfg = Path(str(path) + ".config.json")
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} is missing: cannot rebuild the model saved at {path}")
    return load_weights(cls(**json.loads(cfg.read_text())), path)
