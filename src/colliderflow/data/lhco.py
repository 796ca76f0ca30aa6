"""LHC Olympics 2020 R&D: the official features file, its toy, and the two
real excerpts in shared/data, all turned into one anomaly-detection table.

On-disk format of the official ``events_anomalydetection_v2.features.h5``
(Zenodo 4536377): a pandas HDF5 table with columns ``pxj1 pyj1 pzj1 mj1
tau1j1 tau2j1 tau3j1`` and the same for ``j2``, plus ``label`` (1 = signal),
momenta and masses in GeV. :func:`write_toy_features` writes exactly that;
:func:`read_features` reads either.

The anomaly-detection (AD) table, used by every LHCO study, has
:data:`AD_COLUMNS`, masses in TeV, jet "1" the lighter jet:

========== ===============================================
mjj        dijet invariant mass [TeV]
mj1        lighter jet mass [TeV]
delta_mj   heavier minus lighter jet mass [TeV]
tau21_j1   N-subjettiness ratio tau2/tau1 of the lighter jet
tau21_j2   tau2/tau1 of the heavier jet
label      1 = signal, 0 = background (truth; unused by weak supervision)
========== ===============================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, require_finite

log = logging.getLogger(__name__)

FEATURE_COLUMNS = [f"{q}j{k}" for k in (1, 2) for q in ("px", "py", "pz", "m", "tau1", "tau2", "tau3")] + ["label"]
AD_COLUMNS = ["mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2", "label"]
RECLUSTERED_COLUMNS = ["mjj", "mass_1", "mass_2", "tau1_1", "tau2_1", "tau1_2", "tau2_2"]


# --------------------------------------------------------------------------
# toy generator (official features format)
# --------------------------------------------------------------------------

def _tau_triplet(rng: np.random.Generator, tau21: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tau1, tau2, tau3 consistent with a given tau2/tau1."""
    tau1 = rng.gamma(4.0, 0.04, n) + 0.02
    tau2 = tau21 * tau1
    tau32 = np.clip(rng.normal(0.75, 0.1, n), 0.2, 0.99)
    return tau1, tau2, tau32 * tau2


#: jet pT [GeV] at which the ``mjj_correlation`` knob leaves the QCD jet mass scale unchanged (dijets at mjj ~ 3.5 TeV)
PT_REF = 1750.0


def _qcd_jets(rng: np.random.Generator, n: int, pt_min: float,
              mjj_correlation: float = 0.0) -> list[tuple[np.ndarray, ...]]:
    """Back-to-back QCD dijets above the trigger threshold (GeV).

    ``mjj_correlation`` (alpha) makes the jet mass grow faster than pT:
    m / pT ~ 0.085 (pT / PT_REF)^alpha x log-normal, so the jet masses (and,
    through them, tau21) depend on pT and hence on mjj beyond the trivial
    m ~ pT scaling (alpha = 0). It is the toy's knob that makes sideband
    events differ from signal-region events, so that a background template
    taken from the sidebands without transport does not close."""
    pt1 = pt_min * (1.0 + rng.pareto(4.5, n))  # falling ~ pT^-5.5 spectrum
    pt2 = pt1 * np.clip(1.0 - np.abs(rng.normal(0, 0.08, n)), 0.5, 1.0)
    y_boost = rng.normal(0.0, 0.6, n)
    dy = rng.normal(0.0, 1.0, n)
    eta1, eta2 = y_boost + dy / 2, y_boost - dy / 2
    phi1 = rng.uniform(-np.pi, np.pi, n)
    phi2 = phi1 + np.pi + rng.normal(0, 0.1, n)
    jets = []
    for pt, eta, phi in ((pt1, eta1, phi1), (pt2, eta2, phi2)):
        # QCD jet mass grows with pT: m/pT ~ log-normal around 0.085
        m = pt * np.exp(rng.normal(np.log(0.085), 0.6, n)) * (pt / PT_REF) ** mjj_correlation
        m = np.clip(m, 5.0, 0.45 * pt)
        # heavier (relative to pT) jets are a little more two-pronged
        rel = np.log(m / pt / 0.085)
        tau21 = np.clip(rng.beta(6.0, 3.0, n) - 0.06 * rel, 0.05, 0.98)
        jets.append((pt, eta, phi, m, tau21))
    return jets


def _two_body(rng: np.random.Generator, M: np.ndarray, m1: np.ndarray, m2: np.ndarray,
              n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Momentum of the daughters of a two-body decay in the parent rest frame."""
    M = np.asarray(M, dtype=float)
    p = np.sqrt(np.clip((M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2), 0, None)) / (2 * M)
    cos = rng.uniform(-1, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin = np.sqrt(1 - cos**2)
    return p * sin * np.cos(phi), p * sin * np.sin(phi), p * cos


def _signal_jets(rng: np.random.Generator, n: int, m_wprime: float, m_x: float, m_y: float, width_frac: float,
                 resolution: float) -> list[tuple[np.ndarray, ...]]:
    """W' -> X Y with X, Y -> qq as two fat jets (GeV)."""
    M = m_wprime * (1 + width_frac * rng.standard_cauchy(n) / 2)
    M = np.clip(M, m_x + m_y + 50, 2 * m_wprime)
    mx = rng.normal(m_x, 0.02 * m_x, n)
    my = rng.normal(m_y, 0.03 * m_y, n)
    px, py, pz = _two_body(rng, M, mx, my, n)
    ex, ey = np.sqrt(px**2 + py**2 + pz**2 + mx**2), np.sqrt(px**2 + py**2 + pz**2 + my**2)
    y = rng.normal(0.0, 0.5, n)
    jets = []
    for sgn, e, m in ((1, ex, mx), (-1, ey, my)):
        jpx, jpy, jpz = sgn * px, sgn * py, sgn * pz
        pz_lab = e * np.sinh(y) + jpz * np.cosh(y)
        smear = rng.normal(1.0, resolution, n)  # jet energy scale
        jpx, jpy, pz_lab = jpx * smear, jpy * smear, pz_lab * smear
        m_reco = m * rng.normal(1.0, 0.06, n)
        tau21 = np.clip(rng.beta(2.5, 6.0, n), 0.05, 0.98)  # two-pronged
        jets.append((jpx, jpy, pz_lab, m_reco, tau21))
    return jets


def generate_toy_features(n_background: int, n_signal: int, seed: int = 0, *, m_wprime: float = 3500.0,
                          m_x: float = 500.0, m_y: float = 100.0, width_frac: float = 0.02,
                          resolution: float = 0.04, pt_min: float = 1200.0,
                          mjj_correlation: float = 0.0) -> pd.DataFrame:
    """QCD dijets plus W'->X(qq)Y(qq) signal in the official features format.

    ``mjj_correlation``: how much faster than pT the QCD jet mass grows
    (see :func:`_qcd_jets`); 0 is the plain m ~ pT scaling.

    Both samples pass the R&D trigger-like cut (leading jet pT > ``pt_min``
    GeV). Deterministic in ``seed``. Masses/momenta in GeV.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for label, n in ((0, n_background), (1, n_signal)):
        rows = []
        todo = n
        while todo > 0:
            m = int(todo * 1.6) + 100
            if label == 0:
                jets = [(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), mm, t)
                        for pt, eta, phi, mm, t in _qcd_jets(rng, m, pt_min, mjj_correlation)]
            else:
                jets = _signal_jets(rng, m, m_wprime, m_x, m_y, width_frac, resolution)
            pts = [np.hypot(j[0], j[1]) for j in jets]
            keep = np.maximum(*pts) > pt_min
            cols = {}
            order = pts[0] >= pts[1]  # j1 = leading-pT jet, as in the official file
            for k, (a, b) in enumerate(((0, 1), (1, 0)), start=1):
                ja, jb = jets[a], jets[b]
                sel = [np.where(order, x, y) for x, y in zip(ja, jb)]
                px, py, pz, mass, tau21 = sel
                tau1, tau2, tau3 = _tau_triplet(rng, tau21, m)
                cols.update({f"pxj{k}": px, f"pyj{k}": py, f"pzj{k}": pz, f"mj{k}": mass,
                             f"tau1j{k}": tau1, f"tau2j{k}": tau2, f"tau3j{k}": tau3})
            df = pd.DataFrame(cols)[keep][:todo]
            rows.append(df)
            todo -= len(df)
        df = pd.concat(rows, ignore_index=True)
        df["label"] = float(label)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return out[FEATURE_COLUMNS]


def write_toy_features(path: str | Path, df: pd.DataFrame) -> None:
    """Write ``df`` exactly like the official file (pandas HDF5, one table)."""
    from ..io import atomic_path, untimed_hdf5

    with atomic_path(path) as tmp, untimed_hdf5():
        df.to_hdf(tmp, key="df", mode="w", format="fixed")


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------

#: HDF5 key of the features table in the official file and the toy (config data.lhco.key)
FEATURES_KEY = "df"
#: the reclustered excerpt keeps background and signal under these keys: the label comes from the key
RECLUSTERED_KEYS = {"bkg": 0.0, "sig": 1.0}


def _read_hdf(path: str | Path, key: str | None = None,
              keys: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, str]:
    """A pandas fixed-format table, read with h5py: pickled (object) columns
    are refused with the file and node named (:func:`colliderflow.hdf5.read_frame`)."""
    from ..hdf5 import read_frame

    return read_frame(path, key, objects="refuse", keys=keys)


def _require(df: pd.DataFrame, columns: Iterable[str], path: str | Path) -> None:
    for c in columns:
        if c not in df.columns:
            raise InputError(path, c, "column missing from the LHCO table")


def _mjj(df: pd.DataFrame) -> pd.Series:
    e = [np.sqrt(df[f"pxj{k}"] ** 2 + df[f"pyj{k}"] ** 2 + df[f"pzj{k}"] ** 2 + df[f"mj{k}"] ** 2) for k in (1, 2)]
    px, py, pz = (df[f"{q}j1"] + df[f"{q}j2"] for q in ("px", "py", "pz"))
    return np.sqrt(np.clip((e[0] + e[1]) ** 2 - px**2 - py**2 - pz**2, 0, None))


def _ad_table(mjj: np.ndarray | pd.Series, m1: np.ndarray | pd.Series, m2: np.ndarray | pd.Series,
              t21_1: np.ndarray | pd.Series, t21_2: np.ndarray | pd.Series,
              label: np.ndarray | pd.Series) -> pd.DataFrame:
    """Order the two jets by mass (lighter first) and convert GeV -> TeV."""
    m1, m2, t21_1, t21_2 = map(np.asarray, (m1, m2, t21_1, t21_2))
    light = m1 <= m2
    mlo, mhi = np.where(light, m1, m2), np.where(light, m2, m1)
    return pd.DataFrame({
        "mjj": np.asarray(mjj, dtype=float) / 1000.0,
        "mj1": mlo / 1000.0,
        "delta_mj": (mhi - mlo) / 1000.0,
        "tau21_j1": np.where(light, t21_1, t21_2),
        "tau21_j2": np.where(light, t21_2, t21_1),
        "label": np.asarray(label, dtype=float),
    })


def _tau21(tau1: pd.Series, tau2: pd.Series, path: str | Path, jet: str, counts: dict) -> np.ndarray:
    """tau2/tau1 of one jet. Rows with tau1 = tau2 = 0 (a jet with one
    constituent: the ratio is undefined, a known feature of the reclustered
    excerpt) come back NaN and are counted in ``counts``; tau1 = 0 with tau2 > 0
    or a negative tau is an error naming the column."""
    t1, t2 = tau1.to_numpy(dtype=float), tau2.to_numpy(dtype=float)
    for name, v in ((tau1.name, t1), (tau2.name, t2)):
        if (v < 0).any():
            raise InputError(path, str(name), f"{int((v < 0).sum())} negative value(s)")
    undefined = (t1 == 0) & (t2 == 0)
    bad = (t1 == 0) & ~undefined
    if bad.any():
        raise InputError(path, str(tau1.name), f"{int(bad.sum())} row(s) with tau1 = 0 but tau2 > 0 (tau21 infinite)")
    counts[f"tau1_zero_{jet}"] = counts.get(f"tau1_zero_{jet}", 0) + int(undefined.sum())
    out = np.full(len(t1), np.nan)
    np.divide(t2, t1, out=out, where=~undefined)
    return out


def _drop_undefined(df: pd.DataFrame, path: str | Path, counts: dict) -> pd.DataFrame:
    """Drop the rows whose tau21 is undefined (tau1 = tau2 = 0), counted in
    ``counts["dropped_tau1_zero"]``; the table is then finite everywhere."""
    ok = df[["tau21_j1", "tau21_j2"]].notna().all(axis=1).to_numpy()
    n = int((~ok).sum())
    counts["dropped_tau1_zero"] = counts.get("dropped_tau1_zero", 0) + n
    if n:
        log.info("%s: %d of %d rows dropped: tau1 = tau2 = 0 (tau21 undefined)", path, n, len(df))
    out = df[ok].reset_index(drop=True)
    require_finite(out.to_numpy(dtype=float), path, "AD table")
    return out


def _check_finite(raw: pd.DataFrame, columns: Iterable[str], path: str | Path) -> None:
    for c in columns:
        require_finite(raw[c].to_numpy(dtype=float), path, c)


def read_features(path: str | Path, key: str = FEATURES_KEY, counts: dict | None = None) -> pd.DataFrame:
    """Official (or toy) features file (pandas table under ``key``) -> AD table.

    Any NaN or inf is an error naming the column; rows whose tau ratio is
    undefined (tau1 = tau2 = 0) are dropped and counted in ``counts``.
    """
    counts = {} if counts is None else counts
    raw, _ = _read_hdf(path, key)
    _require(raw, FEATURE_COLUMNS, path)
    _check_finite(raw, FEATURE_COLUMNS, path)
    t1 = _tau21(raw["tau1j1"], raw["tau2j1"], path, "j1", counts)
    t2 = _tau21(raw["tau1j2"], raw["tau2j2"], path, "j2", counts)
    df = _ad_table(_mjj(raw), raw["mj1"], raw["mj2"], t1, t2, raw["label"])
    return _drop_undefined(df, path, counts)


def read_reclustered(paths: Iterable[str | Path], counts: dict | None = None) -> pd.DataFrame:
    """The 100k reclustered LHCO excerpt (scalars_{bkg,sig}NN.h5) -> AD table.

    Each file holds one pandas table under the key ``bkg`` or ``sig``
    (:data:`RECLUSTERED_KEYS`): the label comes from that key, not from the
    file name. Its stored ``tau21_k`` is tau3/tau2 (an upstream bug): tau21
    is recomputed here as tau2/tau1. The excerpt's known defect, jets with
    tau1 = tau2 = 0 (12 rows in the real excerpt), is dropped and counted in ``counts``; any
    other NaN or inf is an error naming the file and column.
    """
    counts = {} if counts is None else counts
    frames = []
    for p in paths:
        raw, key = _read_hdf(p, keys=tuple(RECLUSTERED_KEYS))
        _require(raw, RECLUSTERED_COLUMNS, p)
        _check_finite(raw, RECLUSTERED_COLUMNS, p)
        t1 = _tau21(raw["tau1_1"], raw["tau2_1"], p, "j1", counts)
        t2 = _tau21(raw["tau1_2"], raw["tau2_2"], p, "j2", counts)
        df = _ad_table(raw["mjj"], raw["mass_1"], raw["mass_2"], t1, t2, np.full(len(raw), RECLUSTERED_KEYS[key]))
        frames.append(_drop_undefined(df, p, counts))
    if not frames:
        raise InputError(None, "data.lhco.files", "no reclustered files given")
    return pd.concat(frames, ignore_index=True)


def read_cathode_npy(paths: Iterable[str | Path], counts: dict | None = None) -> pd.DataFrame:
    """CATHODE preprocessed .npy files (N, 6): mjj, mj_min, delta_m [TeV],
    tau21 lighter, tau21 heavier, label -> AD table (signal region only).
    Read without unpickling; any NaN or inf is an error naming the file and column."""
    frames = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError(p, None, "file does not exist")
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise InputError(p, None, f"cannot be read as .npy ({type(exc).__name__}: {str(exc)[:200]})") from None
        if arr.ndim != 2 or arr.shape[1] != 6:
            raise InputError(p, "shape", f"expected (N, 6), got {arr.shape}")
        if arr.dtype.kind not in "fiu":
            raise InputError(p, "dtype", f"expected numbers, got {arr.dtype}")
        df = pd.DataFrame(arr.astype(float), columns=AD_COLUMNS)
        _check_finite(df, AD_COLUMNS, p)
        frames.append(df)
    if not frames:
        raise InputError(None, "data.lhco.files", "no .npy files given")
    return pd.concat(frames, ignore_index=True)


READERS = {"features": read_features, "reclustered": read_reclustered, "cathode_npy": read_cathode_npy}


def read_ad_table(fmt: str, paths: str | Path | Iterable[str | Path], counts: dict | None = None,
                  key: str = FEATURES_KEY) -> pd.DataFrame:
    """Dispatch on the configured format: ``features`` (official or toy
    files, table under ``key``), ``reclustered`` or ``cathode_npy`` (lists of
    paths). Rows dropped for a known defect are counted in ``counts``
    (``dropped_tau1_zero``) and in the result's ``attrs["dropped"]``."""
    if fmt not in READERS:
        raise InputError(None, "data.lhco.format", f"unknown format '{fmt}' (choose from {sorted(READERS)})")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise InputError(None, "data.lhco.files", "no input files given")
    counts = {} if counts is None else counts
    if fmt == "features":
        df = pd.concat([read_features(p, key, counts) for p in paths], ignore_index=True)
    else:
        df = READERS[fmt](paths, counts)
    df.attrs["dropped"] = dict(counts)
    return df


def signal_region_mask(mjj: np.ndarray | pd.Series, lo: float, hi: float) -> np.ndarray:
    """Events with lo <= mjj < hi (TeV)."""
    mjj = np.asarray(mjj)
    return (mjj >= lo) & (mjj < hi)
