"""Part I (SpecReX on simulated Raman spectra): paths, models, inputs and sweep tasks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ...data.raman import DATASETS as RAMAN_DATASETS
from ...data.raman import RamanData, load as _load
from ...explain import make_explainer
from ...models import LRCN, load_lrcn, save_lrcn
from ...training import predict, train_classifier
from . import first_correct, require

DATASETS = list(RAMAN_DATASETS)
METHODS = ["rex", "specrex", "kernel_shap", "gradient_shap", "deeplift_shap"]
# SpecReX's published seed (srex.toml): iteration i draws its partition from seed + i (with the spectrum's key).
SPECREX_SEED = 42


GENERATORS = ("intended", "published")
# The headline model of each data set (chapters 03-04, the benchmarks): intended data, this seed.
HEADLINE_SEED = 0


def _check_generator(generator: str) -> str:
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
    return generator


def dataset_path(data_dir, name: str, generator: str = "intended") -> Path:
    """Return where chapter 01 writes Raman data set ``name`` of ``generator``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    name : str
        The data set.
    generator : {"intended", "published"}
        Which generator's rules made it (:func:`rexbench.data.raman.generate`'s ``variant``).

    Returns
    -------
    pathlib.Path
        ``data_dir/raman/<name>.npz`` (intended) or ``data_dir/raman/published/<name>.npz``.
    """
    folder = Path(data_dir) / "raman"
    return (folder if _check_generator(generator) == "intended" else folder / generator) / f"{name}.npz"


def model_path(data_dir, name: str, generator: str = "intended", seed: int = 0) -> Path:
    """Return where chapter 02 writes the LRCN of data set ``name`` (of ``generator``)
    trained with ``seed``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    name : str
        The data set.
    generator : {"intended", "published"}
        The generator of its training data.
    seed : int
        The training seed.

    Returns
    -------
    pathlib.Path
        ``data_dir/raman/models/lrcn_<name>.pt`` for the intended generator and seed 0 (the
        model the benchmarks use), else ``lrcn_<name>_<generator>_seed<seed>.pt`` there.
    """
    folder = Path(data_dir) / "raman" / "models"
    if _check_generator(generator) == "intended" and int(seed) == 0:
        return folder / f"lrcn_{name}.pt"
    return folder / f"lrcn_{name}_{generator}_seed{int(seed)}.pt"


def make_dataset(data_dir, name: str, *, n_per_class: int, noise: float, seed: int,
                 generator: str = "intended") -> RamanData:
    """Generate a simulated Raman data set, or load it if these parameters made it already.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder; the data set is cached at :func:`dataset_path`.
    name : str
        The data set (:data:`DATASETS`).
    n_per_class : int
        Spectra per class.
    noise : float
        Noise level of the generator.
    seed : int
        The generator's seed.
    generator : {"intended", "published"}
        The generator's rules (:func:`rexbench.data.raman.generate`'s ``variant``).

    Returns
    -------
    RamanData
        The spectra.
    """
    from ...data.raman import generate
    from ..artifacts import cached_npz

    params = {"name": name, "n_per_class": n_per_class, "noise": noise, "seed": seed}
    if _check_generator(generator) != "intended":  # the intended data's manifest stays as it was
        params["generator"] = generator
    arrays = cached_npz(dataset_path(data_dir, name, generator),
                        lambda: generate(name, n_per_class, seed=seed, noise=noise, variant=generator).to_arrays(),
                        notebook="01_raman_datasets", params=params)
    return RamanData(**arrays)


def generator_composition(data: dict, generator: str):
    """What a generator put in the spectra of each data set, per class (chapter 01's
    comparison of the intended and the published generator).

    Parameters
    ----------
    data : dict of str to RamanData
        The data sets by name.
    generator : str
        The generator's name, for the ``generator`` column.

    Returns
    -------
    pandas.DataFrame
        One row per data set and class: ``dataset``, ``generator``, ``class``, ``n``,
        ``length`` and the shares of spectra that carry one of their class's own peaks
        (``share_with_own_peak``), lack one of the shared peaks
        (``share_lacking_shared_peak``) and have their faux peak closer than 100 points to a
        discriminative peak of either class (``share_faux_near_class_peak``).
    """
    import pandas as pd

    rows = []
    for name, d in data.items():
        spec = RAMAN_DATASETS[name]
        own = (~np.isnan(d.peak_pos)).any(axis=1)
        lacks = (~d.shared_present).any(axis=1) if d.shared_present is not None else np.zeros(len(d.y), dtype=bool)
        designed = np.array([p for c in (0, 1) for p, _, _ in spec.class_peaks[c]], dtype=np.float64)
        # Both on the cropped axis: a peak at raw position p sits at p - crop + shift.
        near = (np.abs(d.faux_pos[:, None] - (designed[None, :] - spec.crop + d.shift[:, None])) < 100).any(axis=1)
        for cls in (0, 1, 2):
            m = d.y == cls
            rows.append({"dataset": name, "generator": generator, "class": cls, "n": int(m.sum()),
                         "length": int(d.X.shape[-1]), "share_with_own_peak": float(own[m].mean()),
                         "share_lacking_shared_peak": float(lacks[m].mean()),
                         "share_faux_near_class_peak": float(near[m].mean())})
    return pd.DataFrame(rows)


def load_dataset(data_dir, name: str, generator: str = "intended") -> RamanData:
    """Load a data set chapter 01 wrote.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    name : str
        The data set.
    generator : {"intended", "published"}
        Its generator.

    Returns
    -------
    RamanData
        The data set.

    Raises
    ------
    FileNotFoundError
        If the artifact is missing or incomplete.
    """
    return _load(require(dataset_path(data_dir, name, generator), "01_raman_datasets"))


def load_model(data_dir, name: str, generator: str = "intended", seed: int = 0):
    """Load the LRCN chapter 02 trained on data set ``name``, in eval mode.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    name : str
        The data set.
    generator : {"intended", "published"}
        The generator of its training data.
    seed : int
        Its training seed.

    Returns
    -------
    LRCN
        The model.

    Raises
    ------
    FileNotFoundError
        If the model artifact or its config file is missing or incomplete.
    """
    return load_lrcn(require(model_path(data_dir, name, generator, seed), "02_raman_models")).eval()


def train_lrcn(data_dir, name: str, *, epochs: int, batch_size: int, max_lr: float, kernels, lstm_hidden: int,
               lstm_layers: int, seed: int, generator: str = "intended"):
    """Return the LRCN of data set ``name``, training it if needed.

    It is trained on its training split (validated on its validation split) with
    :func:`~rexbench.training.train_classifier`, or loaded if trained before with these
    settings (see :func:`~rexbench.compendium.chapter.train_or_load`).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    name : str
        The data set.
    epochs, batch_size, max_lr, seed
        Training settings.
    kernels, lstm_hidden, lstm_layers
        Architecture settings of :class:`~rexbench.models.LRCN`.
    generator : {"intended", "published"}
        The generator of the data set it is trained on.

    Returns
    -------
    model : LRCN
        The trained model, in eval mode.
    history : list of dict
        Its per-epoch training history.

    Raises
    ------
    FileNotFoundError
        If the data set artifact is missing or incomplete.
    """
    from ..chapter import train_or_load

    data_path = dataset_path(data_dir, name, generator)
    d = load_dataset(data_dir, name, generator)
    train, val = d.of_split("train"), d.of_split("val")
    params = _train_params(name, generator, seed, epochs=epochs, batch_size=batch_size, max_lr=max_lr, kernels=kernels,
                           lstm_hidden=lstm_hidden, lstm_layers=lstm_layers)
    return train_or_load(
        model_path(data_dir, name, generator, seed), params,
        build=lambda: LRCN(d.X.shape[-1], kernels=kernels, lstm_hidden=lstm_hidden, lstm_layers=lstm_layers),
        train=lambda m: _one_thread(train_classifier, m, train.X, train.y, val.X, val.y, epochs=epochs,
                                    batch_size=batch_size, max_lr=max_lr, seed=seed),
        save=save_lrcn, load=load_lrcn, notebook="02_raman_models", inputs={"data": data_path}, seed=seed)


def _one_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` with one torch thread, then the caller's thread count back.

    Float sums in training are split by thread, so a model depends on the thread count it
    was trained with; training on one thread makes it the same in this process and in a
    single-threaded sweep worker, whatever ``OMP_NUM_THREADS`` is."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return func(*args, **kwargs)
    finally:
        torch.set_num_threads(before)


def _train_task(data_dir, name: str, generator: str, seed: int, settings: dict) -> dict:
    train_lrcn(data_dir, name, generator=generator, seed=seed, **settings)
    return {}


def train_lrcns(data_dir, runs, *, scheduler: str | None = None, **settings) -> tuple[dict, dict]:
    """Return the LRCNs of ``runs``, training those not on disk, side by side on ``scheduler``.

    Every model is trained by :func:`train_lrcn` (on one torch thread, so a model does not
    depend on where it was trained); with a Dask ``scheduler`` (e.g. ``"local:2"``, see
    :func:`rexbench.compendium.sweep.parse_scheduler`) the missing ones are trained in its
    workers, each written to disk as it finishes, then every model is loaded here.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    runs : sequence of (generator, dataset, seed)
        The models.
    scheduler : str, optional
        Where to train the missing models (default: in this process, one after another).
    **settings
        :func:`train_lrcn`'s training and architecture settings.

    Returns
    -------
    models, histories : dict
        The trained models (eval mode) and their per-epoch histories, keyed by run.

    Raises
    ------
    ValueError
        If ``runs`` repeats a model, or as :func:`~rexbench.compendium.sweep.parse_scheduler`.
    """
    from ..chapter import is_trained
    from ..sweep import _client, parse_scheduler

    runs = [(g, name, int(s)) for g, name, s in runs]
    if len(set(runs)) != len(runs):
        raise ValueError(f"runs repeat a model: {runs!r}")
    kind, target = parse_scheduler(scheduler)
    if kind != "none":
        todo = [(g, name, s) for g, name, s in runs
                if not is_trained(model_path(data_dir, name, g, s), _train_params(name, g, s, **settings))]
        if todo:
            from distributed import wait

            client, cluster = _client(kind, target)
            try:
                # Longest first (complex spectra are twice as long): the two workers finish together.
                todo.sort(key=lambda r: -dataset_path(data_dir, r[1], r[0]).stat().st_size)
                futures = [client.submit(_train_task, data_dir, name, g, s, settings, pure=False) for g, name, s in todo]
                wait(futures)
                for f in futures:
                    f.result()  # a failed training raises here
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    models, histories = {}, {}
    for g, name, s in runs:
        models[g, name, s], histories[g, name, s] = train_lrcn(data_dir, name, generator=g, seed=s, **settings)
    return models, histories


def _train_params(name, generator, seed, *, epochs, batch_size, max_lr, kernels, lstm_hidden, lstm_layers) -> dict:
    return {"dataset": name, "generator": generator, "epochs": epochs, "batch_size": batch_size, "max_lr": max_lr,
            "kernels": kernels, "lstm_hidden": lstm_hidden, "lstm_layers": lstm_layers, "seed": seed}


def explained(d: RamanData, model, cls: int, n: int) -> np.ndarray:
    """Return the first ``n`` spectra of class ``cls`` that ``model`` classifies correctly.

    Parameters
    ----------
    d : RamanData
        The spectra.
    model : torch.nn.Module
        The classifier.
    cls : int
        The class.
    n : int
        How many at most.

    Returns
    -------
    numpy.ndarray
        Indices into ``d``.
    """
    return first_correct(predict(model, d.X).argmax(1), d.y, cls, n)


def explain_spectra(method: str, settings: dict, model, X: torch.Tensor, y: torch.Tensor, keys=None,
                    checkpoints=None) -> dict:
    """Run one sweep task: ``method``'s maps of spectra ``X`` for classes ``y``.

    ReX also gives its minimal sufficient explanations and costs, SpecReX its costs;
    DeepLIFT-SHAP its convergence deltas.

    Parameters
    ----------
    method : str
        The explainer's name (see :func:`rexbench.explain.make_explainer`).
    settings : dict
        Its settings.
    model : torch.nn.Module
        The classifier.
    X : torch.Tensor
        Spectra, shape ``(N, 1, L)``.
    y : torch.Tensor
        Target class of each spectrum.
    keys : sequence of int, optional
        Each spectrum's key (its index in its split): a stochastic method's draws for a
        spectrum are seeded by (seed, key), whatever chunk it is in.
    checkpoints : sequence of int, optional
        ReX and SpecReX only: also return the maps after these many iterations
        (``checkpoint_maps``, ``(N, K, L)``); ReX's sufficient explanations are then skipped.

    Returns
    -------
    dict
        ``attr`` (maps, ``(N, L)``) and ``seconds`` (the task's wall time); for ReX also
        ``queries``, ``forward_seconds``, ``degenerate``, ``suff_masks`` and
        ``suff_fraction``; for SpecReX ``queries`` and ``forward_seconds``; for
        DeepLIFT-SHAP also ``delta``.
    """
    t0 = time.perf_counter()
    explainer = make_explainer(method, model, **settings)
    if checkpoints is not None:
        if method not in ("rex", "specrex"):
            raise ValueError(f"checkpoints are for the iterated searches rex and specrex, not {method!r}")
        e = explainer.attribute(X, target=y, keys=keys, checkpoints=checkpoints)
        return {"attr": e.maps[:, 0].numpy(), "checkpoint_maps": e.stats["checkpoint_maps"],
                "queries": e.stats["queries"], "seconds": np.array(time.perf_counter() - t0)}
    e = explainer.attribute(X, target=y, keys=keys)
    out = {"attr": e.maps[:, 0].numpy()}
    if method == "rex":
        suff = explainer.sufficient_explanation(X, target=y, attributions=e, keys=keys)
        out.update(queries=e.stats["queries"], forward_seconds=np.array(e.forward_seconds),
                   degenerate=e.stats["degenerate"], suff_masks=suff.masks[:, 0].numpy(), suff_fraction=suff.fractions)
    if method == "specrex":
        out.update(queries=e.stats["queries"], forward_seconds=np.array(e.forward_seconds))
    if method == "deeplift_shap":
        out["delta"] = e.stats["delta"]
    return {**out, "seconds": np.array(time.perf_counter() - t0)}


def method_settings(method: str, *, rex_iters: int, rex_tree_depth: int, rex_min_box: int, rex_search_limit: int,
                    kshap_samples: int, gshap_samples: int, background: torch.Tensor, seed: int) -> dict:
    """Return a method's constructor settings in the explanations chapter: ReX (rex-xai's
    rules) and SpecReX (the authors' rules, seed 42) at SpecReX's published search settings
    (ReX's degenerate spectra flagged, not raised), the SHAP variants through captum.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    rex_iters, rex_tree_depth, rex_min_box, rex_search_limit : int
        ReX's iterations, tree depth, smallest box and queries per iteration.
    kshap_samples, gshap_samples : int
        KernelSHAP's coalitions and GradientSHAP's samples.
    background : torch.Tensor
        DeepLIFT-SHAP's reference spectra.
    seed : int
        Seed of the stochastic methods.

    Returns
    -------
    dict
        Keyword arguments of :func:`rexbench.explain.make_explainer`.
    """
    return {"rex": {"iters": rex_iters, "tree_depth": rex_tree_depth, "min_box_size": rex_min_box,
                    "search_limit": rex_search_limit, "occlusion": "interp_gaussian", "seed": seed,
                    "on_degenerate": "flag"},
            "specrex": {"iters": rex_iters, "tree_depth": rex_tree_depth, "min_size": rex_min_box,
                        "search_limit": rex_search_limit, "seed": SPECREX_SEED},
            "kernel_shap": {"n_samples": kshap_samples, "seed": seed},
            "gradient_shap": {"n_samples": gshap_samples, "seed": seed},
            "deeplift_shap": {"background": background}}[method]


def background_spectra(train: RamanData, n: int, seed: int) -> torch.Tensor:
    """DeepLIFT-SHAP's reference spectra: ``n`` training spectra drawn with ``seed``."""
    pick = np.random.default_rng(seed).choice(len(train.y), n, replace=False)
    return torch.as_tensor(train.X[pick])


def explanation_cells(data_dir, *, n_explain: int, deeplift_background: int, seed: int, methods=METHODS,
                      generator: str = "intended", model_seed: int = 0, checkpoints=None, skip_unexplained: bool = False,
                      **settings) -> tuple[dict, dict]:
    """Describe the explanations sweep: one cell per (data set, class, method).

    Each cell explains, with the model of ``generator``'s data trained with ``model_seed``,
    the first ``n_explain`` test spectra of class 0 or 1 that model classifies correctly,
    keyed by their index in the test split, and is stored at
    ``raman/explanations/<dataset>_<class>_<method>.npz`` under ``data_dir`` (the headline
    model: intended data, seed 0), else under ``raman/explanations/<generator>_seed<s>/``
    (``.../iterations/`` for an iteration sweep with ``checkpoints``).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    n_explain : int
        Spectra per class and data set.
    deeplift_background : int
        Training spectra (drawn with ``seed``) that DeepLIFT-SHAP's expectation runs over.
    seed : int
        Seed of the background draw and of the stochastic methods.
    methods : sequence of str
        The methods.
    generator : {"intended", "published"}
        The generator of the model's data (and of the explained spectra).
    model_seed : int
        The model's training seed.
    checkpoints : sequence of int, optional
        An iteration sweep of ReX and SpecReX (:func:`explain_spectra`).
    skip_unexplained : bool, optional
        Leave out a (data set, class) the model gets wholly wrong instead of raising (a weak
        model among several seeds is a result, not an error).
    **settings
        The rest of :func:`method_settings`'s arguments.

    Returns
    -------
    tuple of dict
        The cells for :func:`rexbench.compendium.sweep.run_cells`, keyed (dataset, class,
        method), and the explained spectra (:class:`~rexbench.data.raman.RamanData`), keyed
        (dataset, class).

    Raises
    ------
    RuntimeError
        If a model classifies no test spectrum of a class correctly (unless
        ``skip_unexplained``).
    """
    from ..sweep import Cell

    folder = Path(data_dir) / "raman" / "explanations"
    if generator != "intended" or int(model_seed) != 0:
        folder = folder / f"{generator}_seed{int(model_seed)}"
    if checkpoints is not None:
        folder = folder / "iterations"
    ck = None if checkpoints is None else sorted({int(k) for k in checkpoints})
    cells, subsets = {}, {}
    for name in DATASETS:
        d, model = load_dataset(data_dir, name, generator), load_model(data_dir, name, generator, model_seed)
        test, train = d.of_split("test"), d.of_split("train")
        background = background_spectra(train, deeplift_background, seed)
        for cls in (0, 1):
            idx = explained(test, model, cls, n_explain)
            if len(idx) == 0 and skip_unexplained:
                continue
            if len(idx) == 0:
                raise RuntimeError(f"the {name} model classifies no test spectrum of class {cls} correctly: nothing to "
                                   "explain; train longer (chapter 02 'epochs') or on more spectra (chapter 01)")
            subsets[name, cls] = test.subset(idx)
            X, y = torch.as_tensor(test.X[idx]), torch.full((len(idx),), cls)
            for method in methods:
                s = method_settings(method, background=background, seed=seed, **settings)
                # Keys: each spectrum's index in the test split seeds its draws.
                params = {"dataset": name, "class": cls, "n_explain": n_explain, "keys": idx.tolist(),
                          "generator": generator, "model_seed": int(model_seed),
                          "explainer": make_explainer(method, model, **s).params}
                if ck is not None:
                    params["checkpoints"] = ck
                cells[name, cls, method] = Cell(
                    folder / f"{name}_{cls}_{method}.npz", params, explain_spectra,
                    lambda lo, hi, method=method, s=s, model=model, X=X, y=y, k=idx, ck=ck: (
                        method, s, model, X[lo:hi], y[lo:hi], k[lo:hi], ck),
                    len(idx), inputs={"data": dataset_path(data_dir, name, generator),
                                      "model": model_path(data_dir, name, generator, model_seed)})
    return cells, subsets


def model_randomisation(data_dir, subsets: dict, keys: dict, results: dict, *, n: int, deeplift_background: int,
                        seed: int, methods=METHODS, **settings):
    """The model-parameter randomisation test for every method: the first ``n`` explained
    spectra of each data set and class explained again, at the chapter's settings, on a copy
    of the model with every parameter re-initialised
    (:func:`rexbench.metrics.sanity.randomised_copy`), and compared with their maps on the
    trained model. A method whose maps barely change does not explain what the model learned.
    ReX and SpecReX explain only a class the model predicts: where the randomised model calls
    a spectrum another class they give no map (NaN), and ``n`` counts the spectra left.

    The maps on the randomised model are cached under ``raman/sanity/`` (one artifact per
    data set, class and method, keyed on the spectra, the explainer and the trained model).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    subsets, keys : dict
        The explained spectra and their keys (indices in the test split), keyed (dataset, class).
    results : dict
        The maps on the trained model, keyed (dataset, class, method) (``attr``).
    n : int
        Spectra per data set and class.
    deeplift_background : int
        DeepLIFT-SHAP's reference spectra (as in :func:`explanation_cells`).
    seed : int
        Seed of the methods (as in :func:`explanation_cells`) and of the new weights.
    methods : sequence of str, optional
        The methods.
    **settings
        The rest of :func:`method_settings`'s arguments.

    Returns
    -------
    pandas.DataFrame
        One row per data set, class and method: ``generator``, ``dataset``, ``target_class``,
        ``method``, ``n`` (spectra with a map on both models), ``randomised_predicts_class``
        (share the randomised model still calls the class), ``randomised_logit_sd`` and
        ``trained_logit_sd`` (spread of the class's logit over the spectra on each model: near
        0 on the randomised one, its answer hardly depends on the input),
        ``randomised_degenerate`` (searches with a map on the randomised model whose fully
        occluded spectrum already passed; 0 for the methods without a search),
        ``rank_correlation`` and
        ``abs_rank_correlation`` (mean Spearman correlation of the two maps, and of their
        absolute values as Adebayo et al. also report it, each with ``_ci_low`` /
        ``_ci_high``: 95% bootstrap over the spectra) and ``randomised_argmax_hit_rate`` (the
        randomised model's maps scored against the designed peaks).
    """
    import pandas as pd

    from ...metrics.sanity import map_rank_correlation, randomised_copy
    from ...metrics.stats import bootstrap_ci
    from ..artifacts import cached_npz, read_manifest

    rows = []
    for (name, cls), sub in subsets.items():
        model = load_model(data_dir, name)
        twin = randomised_copy(model, seed=seed)
        model_sha = read_manifest(model_path(data_dir, name))["sha256"]
        background = background_spectra(load_dataset(data_dir, name).of_split("train"), deeplift_background, seed)
        k = [int(v) for v in keys[name, cls]][:n]
        part = sub.subset(np.arange(len(k)))
        X, y = torch.as_tensor(part.X), torch.full((len(k),), cls)
        twin_scores, scores = predict(twin, part.X), predict(model, part.X)
        still = float((twin_scores.argmax(1) == cls).mean())
        # Does the randomised model's answer still depend on the input? (A constant
        # classifier gives every search the same answer.)
        spread = {"randomised_logit_sd": float(twin_scores[:, cls].std()), "trained_logit_sd": float(scores[:, cls].std())}
        for method in methods:
            s = method_settings(method, background=background, seed=seed, **settings)
            if method in ("rex", "specrex"):  # no causal explanation of a class the model does not predict
                s = {**s, "on_mispredicted": "nan"}
            explainer = make_explainer(method, twin, **s)
            params = {"dataset": name, "class": cls, "keys": k, "explainer": explainer.params, "model": model_sha,
                      "randomisation_seed": seed, "stored": ["attr", "degenerate"]}

            def compute(explainer=explainer, X=X, y=y, k=k):
                e = explainer.attribute(X, target=y, keys=k)
                degenerate = np.asarray(e.stats.get("degenerate", np.zeros(len(k), dtype=bool)), dtype=bool)
                return {"attr": e.maps[:, 0].numpy(), "degenerate": degenerate}

            r = cached_npz(Path(data_dir) / "raman" / "sanity" / f"{name}_{cls}_{method}.npz", compute,
                           notebook="03_raman_explanations", params=params,
                           inputs={"data": dataset_path(data_dir, name), "model": model_path(data_dir, name)})
            trained = results[name, cls, method]["attr"][: len(k)]
            mapped = np.isfinite(r["attr"]).all(axis=1)
            row = {"generator": "intended", "dataset": name, "target_class": cls, "method": method,
                   "randomised_predicts_class": still, **spread,
                   "randomised_degenerate": int(np.sum(r["degenerate"] & mapped))}
            for col, f in (("rank_correlation", lambda a: a), ("abs_rank_correlation", np.abs)):
                rho = np.array([map_rank_correlation(f(a), f(b)) for a, b in zip(trained, r["attr"])])
                est, lo, hi, m = bootstrap_ci(rho, seed=seed)
                row.update({"n": m, col: est, f"{col}_ci_low": lo, f"{col}_ci_high": hi})
            row["randomised_argmax_hit_rate"] = localisation({"attr": r["attr"]}, part, seed=seed)["argmax_hit_rate"]
            rows.append(row)
    return pd.DataFrame(rows)


def grouped_kernel_shap_cells(data_dir, subsets: dict, keys: dict, cells: dict, *, n: int, group: int,
                              kshap_samples: int, seed: int) -> dict:
    """Describe KernelSHAP over windows of ``group`` points for the first ``n`` explained
    spectra of each data set and class: one sweep cell per (dataset, class), stored at
    ``raman/explanations/<dataset>_<class>_kernel_shap_grouped.npz``.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    subsets, keys : dict
        The explained spectra and their keys, keyed (dataset, class) (:func:`explanation_cells`).
    cells : dict
        The explanation cells (their per-point KernelSHAP cells' inputs are reused).
    n : int
        Spectra per data set and class.
    group : int
        Points per feature (:func:`rexbench.explain.cube_feature_mask`).
    kshap_samples, seed : int
        Coalitions and seed, as for per-point KernelSHAP.

    Returns
    -------
    dict
        Cells for :func:`rexbench.compendium.sweep.run_cells`, keyed (dataset, class).
    """
    from ...explain import cube_feature_mask
    from ..sweep import Cell

    out = {}
    for (name, cls), sub in subsets.items():
        k = list(keys[name, cls])[:n]
        model = load_model(data_dir, name)
        X, y = torch.as_tensor(sub.X[: len(k)]), torch.full((len(k),), cls)
        s = {"n_samples": kshap_samples, "seed": seed, "feature_mask": cube_feature_mask(X.shape[2:], group)}
        params = {"dataset": name, "class": cls, "keys": k, "explainer": make_explainer("kernel_shap", model, **s).params}
        out[name, cls] = Cell(
            Path(data_dir) / "raman" / "explanations" / f"{name}_{cls}_kernel_shap_grouped.npz", params, explain_spectra,
            lambda lo, hi, s=s, model=model, X=X, y=y, k=k: ("kernel_shap", s, model, X[lo:hi], y[lo:hi], k[lo:hi]),
            len(k), inputs=cells[name, cls, "kernel_shap"].inputs)
    return out


SANITY_OCCLUSIONS = ("interp_gaussian", "interp", "zero", "null_context")


def occlusion_sanity(data_dir, subsets: dict, keys: dict, *, occlusions=SANITY_OCCLUSIONS, keep_fraction: float = 0.03,
                     n_masks: int = 20, seed: int = 0):
    """Check each occlusion on each model before trusting ReX's searches with it: how often
    an explained spectrum occluded entirely (``blank_in_class_rate``: ReX's degeneracy
    check) or all but one random window of ``keep_fraction`` of its points
    (``in_class_rate``, :func:`rexbench.metrics.occlusion_in_class_rate`) is still its class
    (:func:`rexbench.metrics.sanity.blank_in_class_rate` for the first).

    ``null_context`` fills occluded points with the mean training spectrum of the null
    class 2 (a :class:`~rexbench.explain.BaselineOcclusion`).

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder (models and data sets).
    subsets : dict
        The explained spectra (:class:`~rexbench.data.raman.RamanData`), keyed (dataset, class).
    keys : dict
        Their keys (indices in the test split), keyed the same way.
    occlusions : sequence of str, optional
        Names of :data:`rexbench.explain.OCCLUSIONS`, or ``"null_context"``.
    keep_fraction : float, optional
        Share of the points kept in the heavily occluded mutants (default 0.03).
    n_masks : int, optional
        Heavily occluded mutants per spectrum (default 20).
    seed : int, optional
        Seed of the windows and of the occlusions' noise (with each spectrum's key).

    Returns
    -------
    pandas.DataFrame
        One row per data set, class and occlusion: ``generator``, ``dataset``,
        ``target_class``, ``occlusion``, ``n``, ``keep_fraction``, ``in_class_rate`` and
        ``blank_in_class_rate`` (means over the spectra).
    """
    import pandas as pd

    from ...explain import BaselineOcclusion, make_occlusion
    from ...metrics.sanity import blank_in_class_rate, occlusion_in_class_rate

    rows = []
    for (name, cls), sub in subsets.items():
        model = load_model(data_dir, name)
        train = load_dataset(data_dir, name).of_split("train")
        x = torch.as_tensor(sub.X)
        for occ_name in occlusions:
            occ = (BaselineOcclusion(train.X[train.y == 2].mean(axis=0)) if occ_name == "null_context"
                   else make_occlusion(occ_name))
            rate = occlusion_in_class_rate(model, x, cls, occ, keep_fraction=keep_fraction, n_masks=n_masks,
                                           seed=seed, keys=keys[name, cls])
            blank_rate = float(blank_in_class_rate(model, x, cls, occ, seed=seed, keys=keys[name, cls]).mean())
            rows.append({"generator": "intended", "dataset": name, "target_class": cls, "occlusion": occ_name,
                         "n": len(sub.y), "keep_fraction": keep_fraction, "in_class_rate": float(rate.mean()),
                         "blank_in_class_rate": blank_rate})
    return pd.DataFrame(rows)


def spectrum_scores(attr: np.ndarray, sub: RamanData, windows=None) -> tuple[np.ndarray, np.ndarray]:
    """Each map's argmax hit and mass in the truth windows (NaN where a spectrum has no
    window or no map): the per-spectrum scores behind :func:`localisation` and
    :func:`paired_method_tests`.

    Parameters
    ----------
    attr : numpy.ndarray
        Maps ``(N, L)``.
    sub : RamanData
        The spectra explained.
    windows : list of list of tuple, optional
        Each spectrum's truth windows; default: its designed peaks.

    Returns
    -------
    tuple of numpy.ndarray
        ``(hits, mass)``, ``float64``, shape ``(N,)`` each.

    Raises
    ------
    ValueError
        If there are not as many window lists (or maps) as spectra.
    """
    from ...data.raman import peak_windows
    from ...metrics import argmax_hit, mass_in_windows

    wins = [peak_windows(sub, i) for i in range(len(sub.y))] if windows is None else list(windows)
    if len(wins) != len(sub.y) or len(attr) != len(sub.y):
        raise ValueError(f"spectrum_scores: {len(wins)} window lists and {len(attr)} maps for {len(sub.y)} spectra")
    nan = float("nan")
    scored = [bool(w) and bool(np.isfinite(a).all()) for a, w in zip(attr, wins)]  # NaN map: no explanation
    hits = np.array([argmax_hit(a, w) if ok else nan for a, w, ok in zip(attr, wins, scored)], dtype=np.float64)
    mass = np.array([mass_in_windows(a, w) if ok else nan for a, w, ok in zip(attr, wins, scored)], dtype=np.float64)
    return hits, mass


def paired_method_tests(scores: dict, pairs, *, seed: int = 0):
    """Paired comparisons of methods on the same spectra: the mean difference of a
    per-spectrum score with its 95% bootstrap interval, the two-sided Wilcoxon signed-rank
    p-value (Pratt) and Holm's adjustment over every row of the table.

    Parameters
    ----------
    scores : dict
        Per-spectrum scores keyed ``(dataset, target_class, truth, metric, method)``; the
        arrays of one (dataset, class, truth, metric) are over the same spectra in the same
        order.
    pairs : sequence of tuple of str
        ``(method_a, method_b)``: each row is ``a - b``.
    seed : int, optional
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        ``dataset, target_class, truth, metric, method_a, method_b, n, mean_difference``,
        ``mean_difference_ci_low``, ``mean_difference_ci_high``, ``p``, ``p_holm``.
    """
    import pandas as pd

    from ...metrics.stats import bootstrap_ci, holm, paired_wilcoxon

    groups = sorted({k[:4] for k in scores}, key=lambda g: (DATASETS.index(g[0]), *g[1:]))
    rows = []
    for g in groups:
        for a, b in pairs:
            if (*g, a) not in scores or (*g, b) not in scores:
                continue
            x, y = np.asarray(scores[(*g, a)], dtype=np.float64), np.asarray(scores[(*g, b)], dtype=np.float64)
            est, lo, hi, n = bootstrap_ci(x - y, seed=seed)
            rows.append({"dataset": g[0], "target_class": g[1], "truth": g[2], "metric": g[3], "method_a": a,
                         "method_b": b, "n": n, "mean_difference": est, "mean_difference_ci_low": lo,
                         "mean_difference_ci_high": hi, "p": paired_wilcoxon(x, y)})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_holm"] = holm(table.p.to_numpy())
    return table


def spectrum_rows(r: dict, sub: RamanData, keys, truths: dict, *, prominence: float):
    """One row per explained spectrum and truth: its argmax hit and mass in the truth's
    windows (:func:`spectrum_scores`) and its map's peak counts by both rules
    (:func:`rexbench.metrics.count_peaks`), the per-spectrum scores :func:`across_models`
    pools over models.

    Parameters
    ----------
    r : dict
        A method's results (``attr``, ``(N, L)``).
    sub : RamanData
        The spectra explained.
    keys : sequence of int
        Their keys (indices in the test split).
    truths : dict of str to list or None
        Each truth's per-spectrum windows (None: the designed peaks).
    prominence : float
        The prominence rule's relative threshold.

    Returns
    -------
    pandas.DataFrame
        ``key, truth, argmax_hit, mass_in_peaks, peaks_default, peaks_prominence``; NaN
        where a spectrum has no map (or no window for the scores).

    Raises
    ------
    ValueError
        If there are not as many keys as spectra.
    """
    import pandas as pd

    from ...metrics import count_peaks

    attr = np.asarray(r["attr"], dtype=np.float64)
    keys = np.asarray(keys)
    if len(keys) != len(attr):
        raise ValueError(f"spectrum_rows: {len(keys)} keys for {len(attr)} maps")
    finite = np.isfinite(attr).all(axis=1)
    counts = {}
    for rule in ("find_peaks_default", "prominence"):
        c = np.full(len(attr), np.nan)
        if finite.any():
            c[finite] = count_peaks(attr[finite], rule=rule, rel_prominence=prominence)
        counts[rule] = c
    frames = []
    for truth, windows in truths.items():
        hits, mass = spectrum_scores(attr, sub, windows)
        frames.append(pd.DataFrame({"key": keys, "truth": truth, "argmax_hit": hits, "mass_in_peaks": mass,
                                    "peaks_default": counts["find_peaks_default"],
                                    "peaks_prominence": counts["prominence"]}))
    return pd.concat(frames, ignore_index=True)


def across_models(scores, by, metrics, *, model="seed", key: str = "key", seed: int = 0):
    """Pool per-spectrum scores over models: per group, the mean over every scored spectrum
    of every model with a 95% crossed bootstrap interval (models and spectra resampled
    independently, one spectrum draw shared by every model, since the models of a data set
    explain the same test spectra; :func:`rexbench.metrics.stats.crossed_bootstrap_ci`),
    and the spread of the per-model means.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per spectrum and model: the ``by`` columns, the ``model`` and ``key``
        columns and the ``metrics`` columns (NaN: not scored).
    by : list of str
        The grouping columns.
    metrics : list of str
        The score columns.
    model, key : str, optional
        The columns naming each row's model (default ``"seed"``) and its spectrum (the
        same spectrum has the same key in every model; default ``"key"``).
    seed : int, optional
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``n_models`` (models with a scored
        spectrum), ``n_spectra`` (distinct spectra scored by some model), ``n`` (scored
        model-spectrum pairs), and per metric its mean, ``_ci_low``, ``_ci_high``, ``_n``
        (the pairs it scored), ``_model_min`` and ``_model_max`` (the lowest and highest
        per-model mean; their spread includes each model's sampling noise over its few
        spectra, not only the variation between training runs).

    Raises
    ------
    KeyError
        If a named column is missing.
    """
    import pandas as pd

    from ...metrics.stats import crossed_bootstrap_ci

    missing = [c for c in [*by, model, key, *metrics] if c not in scores.columns]
    if missing:
        raise KeyError(f"across_models: scores lack the columns {missing}")
    rows = []
    for group, part in scores.groupby(by, sort=False, dropna=False):
        row = dict(zip(by, group if isinstance(group, tuple) else (group,)))
        scored = part[np.isfinite(part[metrics].to_numpy(dtype=np.float64)).any(axis=1)]
        row.update(n_models=int(scored[model].nunique()), n_spectra=int(scored[key].nunique()), n=len(scored))
        for m in metrics:
            v = part[m].to_numpy(dtype=np.float64)
            est, lo, hi, n, _ = crossed_bootstrap_ci(v, part[model].to_numpy(), part[key].to_numpy(), seed=seed)
            per_model = part.groupby(model)[m].mean().dropna()
            row.update({m: est, f"{m}_ci_low": lo, f"{m}_ci_high": hi, f"{m}_n": n,
                        f"{m}_model_min": per_model.min() if len(per_model) else np.nan,
                        f"{m}_model_max": per_model.max() if len(per_model) else np.nan})
        rows.append(row)
    return pd.DataFrame(rows)


def paired_across_models(scores, by, metric: str, pairs, *, model: str = "seed", key: str = "key", seed: int = 0):
    """Paired differences between methods over the spectra of several models: per group and
    pair ``(a, b)``, the mean of ``a - b`` over the spectra both scored, with a 95% crossed
    bootstrap interval (models and spectra resampled independently;
    :func:`rexbench.metrics.stats.crossed_bootstrap_ci`), how many models' own mean
    differences are above and below 0, and the two-sided p-value of a zero mean difference
    (the bootstrap standard error against Student's t with ``min(models, spectra) - 1``
    degrees of freedom: with five models, a design powered only for large differences).

    Holm's adjustment belongs to the family a chapter reads (chapter 03: one per truth and
    metric); apply :func:`rexbench.metrics.stats.holm` to ``p`` over that family.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per spectrum, model and method: the ``by`` columns, ``method``, ``model``,
        ``key`` and ``metric``.
    by : list of str
        The grouping columns (without ``method``).
    metric : str
        The score.
    pairs : sequence of tuple of str
        ``(method_a, method_b)``.
    model, key : str, optional
        The columns naming a row's model and its spectrum (the same key in every model).
    seed : int, optional
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``metric``, ``method_a``, ``method_b``, ``n_models``, ``n``,
        ``mean_difference`` with ``_ci_low`` / ``_ci_high``, ``models_above`` and
        ``models_below`` (models whose mean difference is above / below 0; a model at
        exactly 0 is in neither) and ``p`` (two-sided, unadjusted; NaN where it cannot be
        tested: one model and one spectrum, or no spread).

    Raises
    ------
    ValueError
        If a (model, spectrum, method) occurs more than once in a group.
    """
    import pandas as pd

    from ...metrics.stats import crossed_bootstrap_ci

    rows = []
    for group, part in scores.groupby(by, sort=False):
        if part.duplicated([model, key, "method"]).any():
            raise ValueError(f"paired_across_models: group {group!r} has a (model, spectrum, method) more than once")
        wide = part.pivot_table(index=[model, key], columns="method", values=metric, dropna=False)
        for a, b in pairs:
            if a not in wide or b not in wide:
                continue
            d = (wide[a] - wide[b]).dropna()
            models = d.index.get_level_values(model).to_numpy()
            est, lo, hi, n, p = crossed_bootstrap_ci(d.to_numpy(), models, d.index.get_level_values(key).to_numpy(),
                                                     seed=seed)
            per_model = d.groupby(level=model).mean()
            rows.append({**dict(zip(by, group if isinstance(group, tuple) else (group,))), "metric": metric,
                         "method_a": a, "method_b": b, "n_models": int(len(per_model)),
                         "n": n, "mean_difference": est, "mean_difference_ci_low": lo, "mean_difference_ci_high": hi,
                         "models_above": int((per_model > 0).sum()), "models_below": int((per_model < 0).sum()), "p": p})
    return pd.DataFrame(rows)


def localisation(r: dict, sub: RamanData, windows=None, *, seed: int = 0) -> dict:
    """Score maps ``r["attr"]`` against peak windows of the spectra ``sub``, with 95%
    bootstrap intervals over the spectra.

    Parameters
    ----------
    r : dict
        A method's results (``attr``; for ReX also ``suff_masks`` and ``suff_fraction``).
    sub : RamanData
        The spectra explained.
    windows : list of list of tuple, optional
        Each spectrum's truth windows ``(low, high)`` in cropped-axis points; default: its
        designed discriminative peaks (:func:`rexbench.data.raman.peak_windows`). A spectrum
        with no window, or with a NaN map (no explanation), is left out of the scores.
    seed : int, optional
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``n`` (spectra scored), ``argmax_hit_rate`` and ``mass_in_peaks`` each with
        ``_ci_low`` and ``_ci_high``, ``sufficient_fraction`` and ``sufficient_hits_peak``
        (NaN without sufficient explanations).
    """
    from ...data.raman import peak_windows
    from ...metrics import mask_hits_window
    from ...metrics.stats import bootstrap_ci

    wins = [peak_windows(sub, i) for i in range(len(sub.y))] if windows is None else list(windows)
    hits, mass = spectrum_scores(r["attr"], sub, wins)
    nan = float("nan")
    row = {"n": int(np.isfinite(hits).sum())}
    for name, v in (("argmax_hit_rate", hits), ("mass_in_peaks", mass)):
        est, lo, hi, _ = bootstrap_ci(v, seed=seed)
        row.update({name: est, f"{name}_ci_low": lo, f"{name}_ci_high": hi})
    row.update(sufficient_fraction=nan, sufficient_hits_peak=nan)
    if "suff_masks" in r:
        row["sufficient_fraction"] = float(np.mean(r["suff_fraction"]))
        row["sufficient_hits_peak"] = float(np.nanmean([mask_hits_window(m, w) if w else nan
                                                        for m, w in zip(r["suff_masks"], wins)]))
    return row


def component_window(sub: RamanData, i: int, component: str, width: float = 2.0):
    """The +-``width``-sigma window of one component of spectrum ``i``: its ``"peak0"`` or
    ``"peak1"`` (the class's first or second own peak; ``None`` where the spectrum lacks
    it) or its ``"faux"`` peak."""
    if component == "faux":
        p, s = sub.faux_pos[i], sub.faux_sigma[i]
    else:
        k = int(component[-1])
        p, s = sub.peak_pos[i, k], sub.peak_sigma[i, k]
    return None if np.isnan(p) else (float(p - width * s), float(p + width * s))


def used_windows(sub: RamanData, components) -> list:
    """Each spectrum's windows of the components the model uses (the ``used`` truth).

    Parameters
    ----------
    sub : RamanData
        The spectra.
    components : sequence of str
        The used components (see :func:`model_usage`), e.g. ``["peak0", "faux"]``.

    Returns
    -------
    list of list of tuple
        Per spectrum, the windows of those components it carries (may be empty).
    """
    return [[w for c in components if (w := component_window(sub, i, c)) is not None] for i in range(len(sub.y))]


USED_FLIP_RATE = 0.5  # a component is "used" when removing it changes most predictions


def model_usage(data_dir, subsets: dict, keys: dict, *, generator: str = "intended", model_seed: int = 0,
                cache: dict | None = None):
    """Which components each model uses: every explained spectrum regenerated without one
    component (its class's first or second own peak, or its faux peak), every other random
    draw kept (:func:`rexbench.data.raman.without_component`), and classified again.

    Before removing anything, the regeneration is checked: with nothing removed it must give
    the data set itself, and spectra that lack the component must come back identical. The
    removal re-applies SNV normalisation, so every point of the spectrum changes a little,
    not only the peak's.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder (data sets, their generator settings in their manifests,
        and models).
    subsets : dict
        The explained spectra (:class:`~rexbench.data.raman.RamanData`), keyed (dataset, class).
    keys : dict
        Their indices in the test split, keyed the same way.
    generator : {"intended", "published"}
        The generator of the data and of the model's training data.
    model_seed : int
        The model's training seed.
    cache : dict, optional
        Regenerated test splits, kept between calls (one per generator, data set and
        component; they do not depend on the model, so the models of several seeds share them).

    Returns
    -------
    pandas.DataFrame
        One row per data set, class and component the spectra carry: ``generator``,
        ``dataset``, ``target_class``, ``seed`` (the model's training seed),
        ``component``, ``peak`` (its designed position, or ``faux``), ``n`` (spectra that
        carry it), ``flip_rate`` (share whose prediction is no longer the class, with its
        exact 95% interval ``_ci_low`` / ``_ci_high``), ``flip_to`` (the class most of the changed predictions
        went to; -1 if none changed), ``prob_drop`` (mean fall of the class's softmax
        probability) and ``used`` (``flip_rate >= USED_FLIP_RATE``).

    Raises
    ------
    RuntimeError
        If the regeneration does not reproduce the data set's spectra.
    """
    import pandas as pd

    from ...data.raman import COMPONENTS, generate, without_component
    from ...metrics.stats import proportion_ci
    from ..artifacts import read_manifest

    cache = {} if cache is None else cache
    rows = []
    for (name, cls), sub in subsets.items():
        d = load_dataset(data_dir, name, generator)
        gen = dict(read_manifest(dataset_path(data_dir, name, generator))["params"])
        gen.pop("name")
        gen["variant"] = gen.pop("generator", "intended")
        model = load_model(data_dir, name, generator, model_seed)
        trained_seed = int(read_manifest(model_path(data_dir, name, generator, model_seed))["params"]["seed"])
        if trained_seed != int(model_seed):
            raise RuntimeError(f"model_usage: the {name} model at seed {model_seed} was trained with seed {trained_seed}")
        test_rows = np.flatnonzero(d.split == "test")
        idx = np.asarray(keys[name, cls])
        if (generator, name) not in cache:  # the regeneration, nothing removed, must be the data set itself
            if not np.array_equal(generate(name, **gen).X, d.X):
                raise RuntimeError(f"model_usage: regenerating {name} with {gen} does not reproduce its spectra")
            cache[generator, name] = True
        base = torch.softmax(torch.as_tensor(predict(model, sub.X)), 1)[:, cls].numpy()
        for comp in COMPONENTS:
            has = np.array([component_window(sub, i, comp) is not None for i in range(len(sub.y))])
            if (generator, name, comp) not in cache:  # the whole test split, once
                cache[generator, name, comp] = without_component(name, test_rows, comp, **gen)
            less = cache[generator, name, comp][idx]
            if not np.array_equal(less[~has], sub.X[~has]):
                raise RuntimeError(f"model_usage: regenerating {name} with {gen} does not reproduce its spectra")
            if not has.any():
                continue
            prob = torch.softmax(torch.as_tensor(predict(model, less[has])), 1).numpy()
            flips = (prob.argmax(1) != cls).astype(np.float64)
            n = len(flips)
            rate, lo, hi = proportion_ci(int(flips.sum()), n)
            moved = prob.argmax(1)[flips == 1]
            flip_to = int(np.bincount(moved).argmax()) if len(moved) else -1
            peak = "faux" if comp == "faux" else str(RAMAN_DATASETS[name].class_peaks[cls][int(comp[-1])][0])
            rows.append({"generator": generator, "dataset": name, "target_class": cls, "seed": int(model_seed),
                         "component": comp, "peak": peak, "n": n, "flip_rate": rate, "flip_rate_ci_low": lo,
                         "flip_rate_ci_high": hi, "flip_to": flip_to, "prob_drop": float(np.mean(base[has] - prob[:, cls])),
                         "used": bool(rate >= USED_FLIP_RATE)})
    return pd.DataFrame(rows)


def rex_ablation(data_dir, tag: str, name: str, model, sub: RamanData, cls: int, keys, *,
                 notebook: str = "04_raman_ablations", **settings) -> dict:
    """Return ReX's maps and sufficient explanations of the spectra ``sub`` (class ``cls``) at ``settings``.

    Degenerate inputs are flagged, not raised. The result is cached under ``tag`` at
    ``data_dir/raman/ablations/<tag>_<name>_<cls>.npz``, keyed on the tag, data set,
    class, number and sum of the spectra, and the explainer's parameters.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The profile's data folder.
    tag : str
        Name of the ablation.
    name : str
        The data set.
    model : torch.nn.Module
        The classifier.
    sub : RamanData
        The spectra to explain.
    cls : int
        The target class.
    keys : sequence of int
        Each spectrum's key (its index in its split; the same spectrum keeps its key, and
        so its draws, across an ablation's settings).
    notebook : str, optional
        The chapter that makes it (default ``"04_raman_ablations"``).
    **settings
        ReX settings.

    Returns
    -------
    dict of str to numpy.ndarray
        ``attr``, ``suff_masks``, ``suff_fraction`` and ``degenerate``.
    """
    from ..artifacts import cached_npz

    explainer = make_explainer("rex", model, on_degenerate="flag", **settings)
    X = torch.as_tensor(sub.X)

    def compute():
        e = explainer.attribute(X, target=cls, keys=keys)
        suff = explainer.sufficient_explanation(X, target=cls, attributions=e, keys=keys)
        return {"attr": e.maps[:, 0].numpy(), "suff_masks": suff.masks[:, 0].numpy(),
                "suff_fraction": suff.fractions, "degenerate": e.stats["degenerate"]}

    keys = [int(k) for k in keys]
    params = {"tag": tag, "dataset": name, "class": cls, "n": len(sub.y), "X_sum": float(sub.X.sum()),
              "keys": keys, "explainer": explainer.params}
    return cached_npz(Path(data_dir) / "raman" / "ablations" / f"{tag}_{name}_{cls}.npz", compute,
                      notebook=notebook, params=params)


def score_rex(r: dict, sub: RamanData, prominence: float) -> dict:
    """Score ReX results ``r`` on ``sub``: peak counts, localisation and sufficient explanations.

    Parameters
    ----------
    r : dict
        ReX results with ``attr``, ``suff_masks``, ``suff_fraction`` and ``degenerate``
        (as :func:`rex_ablation` returns).
    sub : RamanData
        The spectra explained, for their peak windows.
    prominence : float
        Relative prominence of the ``"prominence"`` peak count.

    Returns
    -------
    dict
        ``n``, ``mean_peaks``, ``std_peaks``, ``mean_peaks_prominence``,
        ``argmax_hit_rate``, ``argmax_hit_se`` (standard error), ``mass_in_peaks``,
        ``sufficient_fraction``, ``sufficient_hits_peak`` and ``degenerate`` (a count);
        spread measures are NaN for a single spectrum.
    """
    from ...data.raman import peak_windows
    from ...metrics import argmax_hit, count_peaks

    default = count_peaks(r["attr"])
    hits = np.array([argmax_hit(a, peak_windows(sub, i)) for i, a in enumerate(r["attr"])])
    ok = np.sum(~np.isnan(hits))
    loc = localisation(r, sub)
    return {"n": loc["n"], "mean_peaks": default.mean(), "std_peaks": default.std(ddof=1) if len(default) > 1 else np.nan,
            "mean_peaks_prominence": count_peaks(r["attr"], "prominence", prominence).mean(),
            "argmax_hit_rate": loc["argmax_hit_rate"],
            "argmax_hit_se": float(np.nanstd(hits, ddof=1) / np.sqrt(ok)) if ok > 1 else np.nan,
            "mass_in_peaks": loc["mass_in_peaks"], "sufficient_fraction": loc["sufficient_fraction"],
            "sufficient_hits_peak": loc["sufficient_hits_peak"], "degenerate": int(np.sum(r["degenerate"]))}
