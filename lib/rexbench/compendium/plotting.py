"""Plots shared by the Part III chapters: images in pixels, spectrograms in Hz and seconds,
attribution maps on a diverging colormap centred at zero."""
from __future__ import annotations

import numpy as np

ATTR_CMAP = "RdBu_r"


def spectrogram_axes(ax, cfg, n_ticks: int = 5) -> None:
    """Label a spectrogram drawn with ``imshow(origin="lower")`` in seconds (x, frame
    centres) and Hz (y, mel band centres; the mel axis is not linear in Hz).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes of the spectrogram (``n_mels`` rows, ``n_frames`` columns).
    cfg : rexbench.data.audio.MelConfig
        The spectrogram's resolution, which gives the frame times and band frequencies.
    n_ticks : int, optional
        Ticks per axis, spread evenly from the first to the last frame or band (default 5).
    """
    times = cfg.frame_times()
    xt = np.linspace(0, cfg.n_frames - 1, n_ticks).round().astype(int)
    ax.set_xticks(xt, [f"{times[i]:.2f}" for i in xt])
    freqs = cfg.mel_frequencies()
    yt = np.linspace(0, cfg.n_mels - 1, n_ticks).round().astype(int)
    ax.set_yticks(yt, [f"{freqs[i]:.0f}" for i in yt])
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")


def show_input(ax, x: np.ndarray, cfg=None, title: str = "") -> None:
    """An image (``cfg`` None, pixel axes, gray, 0 = black) or a scaled log-mel spectrogram
    (``cfg`` a MelConfig, 0 = silence).

    The colour scale is fixed to [0, 1].

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes to draw on.
    x : numpy.ndarray
        The input, 2-D once squeezed (e.g. ``(1, H, W)``), scaled to [0, 1].
    cfg : rexbench.data.audio.MelConfig, optional
        For a spectrogram: drawn with the low bands at the bottom and labelled by
        :func:`spectrogram_axes`. None (default) for an image.
    title : str, optional
        The axes' title.
    """
    x = np.asarray(x).squeeze()
    if cfg is None:
        ax.imshow(x, cmap="gray", vmin=0, vmax=1)
        ax.set(xlabel="x (pixel)", ylabel="y (pixel)")
    else:
        ax.imshow(x, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1)
        spectrogram_axes(ax, cfg)
    ax.set_title(title)


def show_attribution(ax, a: np.ndarray, cfg=None, title: str = ""):
    """An attribution map divided by its largest magnitude, so every map of every modality
    shares the scale [-1, 1] on one diverging colormap centred at 0. A map that is NaN
    (no explanation) or all zero is drawn blank and says so.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes to draw on.
    a : numpy.ndarray
        The map, 2-D once squeezed.
    cfg : rexbench.data.audio.MelConfig, optional
        For a spectrogram's map: the low bands at the bottom, axes in seconds and Hz
        (:func:`spectrogram_axes`). None (default) for an image's: pixel axes.
    title : str, optional
        The axes' title.

    Returns
    -------
    matplotlib.image.AxesImage
        The image drawn, e.g. for a colorbar.
    """
    a = np.asarray(a, dtype=float).squeeze()
    peak = np.nanmax(np.abs(a)) if np.isfinite(a).any() else np.nan
    if not np.isfinite(peak) or peak == 0:
        ax.text(0.5, 0.5, "no map" if not np.isfinite(peak) else "all zero", ha="center", va="center",
                transform=ax.transAxes)
        a = np.zeros_like(a)
        peak = 1.0
    im = ax.imshow(a / peak, cmap=ATTR_CMAP, vmin=-1, vmax=1, origin="lower" if cfg is not None else "upper",
                   aspect="auto" if cfg is not None else "equal")
    if cfg is not None:
        spectrogram_axes(ax, cfg)
    else:
        ax.set(xlabel="x (pixel)", ylabel="y (pixel)")
    ax.set_title(title)
    return im


def volume_viewer(overlay: np.ndarray, background: np.ndarray, affine: np.ndarray, centre_voxel, *, title: str,
                  **kwargs):
    """An offline interactive viewer (nilearn ``view_img``) of ``overlay`` on ``background``,
    both ``(X, Y, Z)`` volumes with ``affine``, cut through ``centre_voxel``.

    The page carries the viewer's scripts and images; its one link to the web (a favicon)
    is dropped, so the book works offline. ``kwargs`` go to ``view_img`` (threshold, cmap...).

    Parameters
    ----------
    overlay : numpy.ndarray
        The ``(X, Y, Z)`` volume drawn over the background.
    background : numpy.ndarray
        The ``(X, Y, Z)`` background volume.
    affine : numpy.ndarray
        The ``(4, 4)`` voxel-to-world affine of both volumes.
    centre_voxel : sequence of float
        Voxel coordinates of the cuts, mapped to world coordinates by ``affine``.
    title : str
        The viewer's title.
    **kwargs
        Keyword arguments of ``view_img``, which override the defaults ``black_bg=True``,
        ``dim=0``, ``resampling_interpolation="nearest"``, ``width_view=720`` and
        ``symmetric_cmap=False``.

    Returns
    -------
    nilearn.plotting.html_stat_map.StatMapView
        The viewer; nilearn's warnings while it is made are silenced.
    """
    import re
    import warnings

    import nibabel as nib
    from nibabel.affines import apply_affine
    from nilearn import plotting

    settings = {"black_bg": True, "dim": 0, "resampling_interpolation": "nearest", "width_view": 720,
                "symmetric_cmap": False, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer = plotting.view_img(nib.Nifti1Image(np.asarray(overlay, dtype=np.float32), affine),
                                   bg_img=nib.Nifti1Image(np.asarray(background, dtype=np.float32), affine),
                                   cut_coords=apply_affine(affine, centre_voxel), title=title, **settings)
    viewer.html = re.sub(r"<link rel=\"icon\".*?/>", "", viewer.html, flags=re.S)
    return viewer
