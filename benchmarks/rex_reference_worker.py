"""Runs the reference ReX (PyPI rex-xai 0.4.1) on spectra; executed by bench_rex_reference.py
inside rex-xai's own virtual environment (it pins numpy 1.26.4), never imported by rexbench.

    python rex_reference_worker.py request.json

The request names a TorchScript model (N, 1, L) -> class scores, an .npz with the spectra
``X`` (n, 1, L) and the settings; the worker writes an .npz with, per spectrum, the
responsibility map of the predicted class, wall seconds, model queries and the seconds
spent in the model's forward passes.
"""
import json
import sys
import time

import numpy as np
import torch

from rex_xai.lib import ReX
from rex_xai.responsibility.prediction import from_pytorch_tensor


def main(request_path: str) -> int:
    req = json.loads(open(request_path).read())
    torch.set_num_threads(req.get("threads", 2))
    model = torch.jit.load(req["model"]).eval()
    X = np.load(req["inputs"])["X"].astype(np.float32)
    length = X.shape[-1]
    counter = {"queries": 0, "forward": 0.0}

    def predict(mutants, target=None, raw=False):
        # The reference queries the model one mutant at a time, shaped (1, 1, L).
        t0 = time.perf_counter()
        with torch.no_grad():
            scores = model(torch.as_tensor(mutants).reshape(-1, 1, length))
        counter["forward"] += time.perf_counter() - t0
        counter["queries"] += scores.shape[0]
        return torch.softmax(scores, 1) if raw else from_pytorch_tensor(scores, target=target)

    maps, seconds, queries, forward = [], [], [], []
    for i, x in enumerate(X):
        counter.update(queries=0, forward=0.0)
        t0 = time.perf_counter()
        rex = ReX(model, [1, length], "cpu", "spectral", prediction_function=predict)
        a = rex.args
        a.iters, a.min_box_size, a.chunk_size = req["iters"], req["min_box_size"], req["min_box_size"]
        a.search_limit, a.tree_depth, a.mask_value = req["search_limit"], req["tree_depth"], "spectral"
        a.seed, a.progress_bar, a.gpu = req["seed"] + i, False, False
        # 1-D data (1, L): with (1, 1, L) the reference's spectral occlusion occludes nothing
        # (a known defect of 0.4.1, see ../shared/TOOLCHAIN.md).
        rex.set_tabular_data("spectrum", data=x.reshape(1, length))
        rex.set_target()
        rex.calculate_responsibility()
        resp = np.asarray(rex.maps.get(rex.data.target.classification), dtype=np.float64).reshape(-1)
        seconds.append(time.perf_counter() - t0)
        maps.append(resp)
        queries.append(counter["queries"])
        forward.append(counter["forward"])
    np.savez(req["output"], maps=np.stack(maps), seconds=np.array(seconds), queries=np.array(queries),
             forward_seconds=np.array(forward))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
