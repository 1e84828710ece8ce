"""Refinement of found peaks with lmfit pseudo-Voigt profiles, overlapped peaks fitted together.

Peaks closer than :data:`GROUP_GAP_FWHM` widths are fitted as one group over
a local linear residual background. For doublet radiation (Cu Kα) every peak
is a Kα1/Kα2 pair: the Kα2 line sits at the angle of the same d for λ₂, with
the anode's intensity ratio and the same width, so a refined position is the
Kα1 position and a refined area is that of the whole reflection. Satellites
flagged by :func:`~phasetrace.peaks.find.flag_kalpha2` are absorbed by their
parent's doublet and leave the table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scan import Radiation
from .profiles import pseudo_voigt
from .table import PeakTable

__all__ = ["GROUP_GAP_FWHM", "doublet_pseudo_voigt", "group_peaks", "refine_peaks"]

#: Neighbouring peaks closer than this many (mean) FWHM share one fit.
GROUP_GAP_FWHM = 2.5

#: Half-width of a group's fit window beyond its outer peaks, in FWHM.
WINDOW_FWHM = 3.0

#: Largest number of peaks fitted together (larger groups are split at their widest gap).
MAX_GROUP = 8

#: A refined peak whose apex height is below this many σ has been fitted away and is dropped.
MIN_REFINED_SIGMA = 1.0

#: Starting Lorentzian fraction of the pseudo-Voigt.
ETA_START = 0.5

#: Function evaluations allowed per fitted parameter (a well-started peak fit needs a few dozen in all).
MAX_NFEV_PER_PARAMETER = 100

#: Bounds of a refined FWHM relative to the found one.
FWHM_BOUNDS = (0.3, 3.0)


def doublet_pseudo_voigt(
    x: np.ndarray,
    amplitude: float,
    center: float,
    fwhm: float,
    eta: float,
    *,
    wavelength_ratio: float = 1.0,
    ratio: float = 0.0,
) -> np.ndarray:
    """Pseudo-Voigt reflection of area ``amplitude`` as a Kα1/Kα2 doublet.

    Parameters
    ----------
    x : ndarray, shape (N,)
        Degrees 2θ (or any x when ``ratio`` is 0).
    amplitude : float
        Total area (Kα1 + Kα2).
    center : float
        Kα1 position.
    fwhm, eta : float
        Width and Lorentzian fraction of each line.
    wavelength_ratio : float
        λ(Kα2) / λ(Kα1).
    ratio : float
        I(Kα2) / I(Kα1); 0 for a single line.

    Returns
    -------
    ndarray, shape (N,)
    """
    a1 = amplitude / (1.0 + ratio)
    out = a1 * pseudo_voigt(x, center, fwhm, eta)
    if ratio > 0:
        s = np.clip(np.sin(np.radians(center) / 2.0) * wavelength_ratio, -1.0, 1.0)
        c2 = 2.0 * np.degrees(np.arcsin(s))
        out = out + a1 * ratio * pseudo_voigt(x, c2, fwhm, eta)
    return out


def _doublet_function(wavelength_ratio: float, ratio: float) -> Callable[..., np.ndarray]:
    def profile(x, amplitude=1.0, center=0.0, fwhm=0.1, eta=ETA_START):  # noqa: ANN001 - lmfit reads the names
        return doublet_pseudo_voigt(
            x, amplitude, center, fwhm, eta, wavelength_ratio=wavelength_ratio, ratio=ratio
        )

    return profile


def _local_line(x_mid: float) -> Callable[..., np.ndarray]:
    def line(x, intercept=0.0, slope=0.0):  # noqa: ANN001 - lmfit reads the names
        return intercept + slope * (x - x_mid)

    return line


def group_peaks(position: np.ndarray, fwhm: np.ndarray, *, gap: float = GROUP_GAP_FWHM) -> list[np.ndarray]:
    """Indices of overlapping peaks, group by group.

    Parameters
    ----------
    position, fwhm : ndarray, shape (M,)
        Sorted positions and widths.
    gap : float
        Neighbours closer than ``gap`` × their mean FWHM join a group.

    Returns
    -------
    list of ndarray of int
    """
    if position.size == 0:
        return []
    close = np.diff(position) < gap * 0.5 * (fwhm[:-1] + fwhm[1:])
    groups, start = [], 0
    for i, c in enumerate(close, start=1):
        if not c:
            groups.append(np.arange(start, i))
            start = i
    groups.append(np.arange(start, position.size))
    out = []
    for g in groups:
        out.extend(_split(g, position))
    return out


def _split(g: np.ndarray, position: np.ndarray) -> list[np.ndarray]:
    if g.size <= MAX_GROUP:
        return [g]
    cut = int(np.argmax(np.diff(position[g]))) + 1
    return _split(g[:cut], position) + _split(g[cut:], position)


def refine_peaks(
    x: np.ndarray,
    net: np.ndarray,
    sigma: np.ndarray,
    table: PeakTable,
    *,
    radiation: Radiation | None = None,
) -> PeakTable:
    """Refine positions, widths, heights and areas by least-squares pseudo-Voigt fits.

    Parameters
    ----------
    x : ndarray, shape (N,)
    net : ndarray, shape (N,)
        Background-subtracted intensities.
    sigma : ndarray, shape (N,)
        Per-point uncertainties (fit weights 1/σ).
    table : PeakTable
        Found peaks (Kα2 satellites are absorbed by their parents when the
        radiation is a doublet).
    radiation : Radiation, optional
        Doublet radiation to fit Kα1/Kα2 pairs; None or monochromatic for
        single lines (Raman, synchrotron).

    Returns
    -------
    PeakTable
        Refined peaks with ``refined`` True, ``position_err`` and ``eta``
        set; peaks the fit reduced below :data:`MIN_REFINED_SIGMA` are gone.
    """
    from lmfit.model import Model

    doublet = radiation is not None and radiation.is_doublet
    keep = ~table.kalpha2 if doublet else np.ones(len(table), dtype=bool)
    peaks = table.take(keep)
    if not len(peaks):
        return peaks
    lam_ratio = float(radiation.kalpha2) / radiation.kalpha1 if doublet else 1.0
    ratio = float(radiation.ratio) if doublet else 0.0
    func = _doublet_function(lam_ratio, ratio)
    out = {name: np.array(getattr(peaks, name), copy=True) for name in peaks.columns}
    out["kalpha2"][:] = False
    out["parent"][:] = -1
    alive = np.ones(len(peaks), dtype=bool)
    for g in group_peaks(peaks.position, peaks.fwhm):
        pos, wid = peaks.position[g], peaks.fwhm[g]
        lo = pos[0] - WINDOW_FWHM * wid[0]
        hi = pos[-1] + WINDOW_FWHM * wid[-1]
        if doublet:
            hi += float(
                2.0 * np.degrees(np.arcsin(min(1.0, np.sin(np.radians(pos[-1]) / 2) * lam_ratio))) - pos[-1]
            )
        sel = (x >= lo) & (x <= hi)
        if np.count_nonzero(sel) < 3 * g.size + 2:
            continue
        xs, ys, ws = x[sel], net[sel], 1.0 / sigma[sel]
        model = Model(_local_line(float(0.5 * (xs[0] + xs[-1]))), prefix="bg_")
        for k in range(g.size):
            model = model + Model(func, prefix=f"p{k}_")
        params = model.make_params(bg_slope=0.0, bg_intercept=0.0)
        for k, i in enumerate(g):
            w = float(peaks.fwhm[i])
            params[f"p{k}_center"].set(value=float(peaks.position[i]), min=pos[k] - w, max=pos[k] + w)
            params[f"p{k}_fwhm"].set(value=w, min=FWHM_BOUNDS[0] * w, max=FWHM_BOUNDS[1] * w)
            params[f"p{k}_amplitude"].set(value=max(float(peaks.area[i]), 1e-9) * (1.0 + ratio), min=0.0)
            if k == 0:
                params["p0_eta"].set(value=ETA_START, min=0.0, max=1.0)
            else:
                params[f"p{k}_eta"].set(expr="p0_eta")
        try:
            result = model.fit(ys, params, x=xs, weights=ws, max_nfev=MAX_NFEV_PER_PARAMETER * len(params))
        except (ValueError, TypeError):  # a degenerate window; keep the found values
            continue
        bp = result.params
        for k, i in enumerate(g):
            amp = float(bp[f"p{k}_amplitude"].value)
            c = float(bp[f"p{k}_center"].value)
            w = float(bp[f"p{k}_fwhm"].value)
            eta = float(bp[f"p{k}_eta"].value)
            height1 = amp / (1.0 + ratio) * float(pseudo_voigt(np.array([c]), c, w, eta)[0])
            if height1 < MIN_REFINED_SIGMA * float(np.interp(c, x, sigma)):
                alive[i] = False
                continue
            err = bp[f"p{k}_center"].stderr
            out["position"][i] = c
            out["fwhm"][i] = w
            out["area"][i] = amp
            out["height"][i] = height1
            out["eta"][i] = eta
            out["refined"][i] = True
            out["position_err"][i] = float(err) if err is not None and np.isfinite(err) else np.nan
    refined = PeakTable(**out).take(alive)
    order = np.argsort(refined.position, kind="stable")
    return refined.take(order)
