"""Les Houches Event (LHE) files: the hard-process partons of a generator's
events, read with pylhe (plain or gzipped files).

:func:`read_partons` gives per event the outgoing QCD partons (status 1,
quarks and gluons) as (pT [GeV], eta, phi), pT-ordered, with phi measured
from the azimuth of the vector boson (the sum of the outgoing leptons, or the
status-2 W/Z/gamma when the event has no leptons): the convention of the
jet-radiation toy, where the Z is the azimuthal reference. Zero padding
beyond ``n_partons``. The event weights are kept; MadGraph's unweighted
events carry one weight.

Bad input stops with :class:`colliderflow.errors.InputError` naming the file
and field: a missing or unparsable file, no events, non-finite momenta, a
parton along the beam (pT = 0, eta undefined), or an event with more
partons than ``max_partons``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

QUARKS_AND_GLUON = frozenset({1, 2, 3, 4, 5, 6, 21})
LEPTONS = frozenset({11, 12, 13, 14, 15, 16})
BOSONS = frozenset({22, 23, 24})


def _phi(px: float, py: float) -> float:
    return float(np.arctan2(py, px))


def read_partons(path: str | Path, max_partons: int = 4) -> dict:
    """The outgoing partons of every event: ``partons`` (N, max_partons, 3)
    float64 (pT, eta, phi - phi_boson wrapped into [-pi, pi)), ``n_partons``
    (N,) int64, ``weights`` (N,), ``boson`` (N, 2) (pT, phi) of the lepton
    system (or the status-2 boson)."""
    import warnings

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "LHE file not found")
    try:
        with warnings.catch_warnings():
            # pylhe reports a damaged XML stream (a truncated file) with a warning and stops: an error here
            warnings.simplefilter("error", RuntimeWarning)
            parts, ns, weights, bosons = _read(path, max_partons)
    except InputError:
        raise
    except Exception as exc:  # pylhe raises XML, gzip, EOF and value errors on a damaged file
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(path, "events", f"not a readable Les Houches Event file ({type(exc).__name__}: {msg})") \
            from None
    if not ns:
        raise InputError(path, "events", "no events in the file")
    w = np.asarray(weights)
    if not np.all(np.isfinite(w)):
        raise InputError(path, "weights", "event weights hold NaN or inf")
    return {"partons": np.stack(parts), "n_partons": np.asarray(ns, dtype=np.int64), "weights": w,
            "boson": np.asarray(bosons)}


def _read(path: Path, max_partons: int) -> tuple[list, list, list, list]:
    import pylhe

    parts, ns, weights, bosons = [], [], [], []
    for i, ev in enumerate(pylhe.LHEFile.fromfile(str(path)).events):
        jets, lep, boson = [], [0.0, 0.0], None
        for p in ev.particles:
            if not np.all(np.isfinite((p.px, p.py, p.pz, p.e))):
                raise InputError(path, f"event {i}: particle momentum", "holds NaN or inf")
            pid = abs(int(p.id))
            if p.status == 1 and pid in QUARKS_AND_GLUON:
                pt = float(np.hypot(p.px, p.py))
                if pt <= 0:
                    raise InputError(path, f"event {i}: parton pT", "an outgoing parton along the beam (pT = 0)")
                jets.append((pt, float(np.arcsinh(p.pz / pt)), _phi(p.px, p.py)))
            elif p.status == 1 and pid in LEPTONS:
                lep[0] += p.px
                lep[1] += p.py
            elif p.status == 2 and pid in BOSONS:
                boson = (p.px, p.py)
        if lep != [0.0, 0.0]:
            boson = tuple(lep)
        boson = boson or (0.0, 0.0)
        if len(jets) > max_partons:
            raise InputError(path, f"event {i}: partons", f"{len(jets)} outgoing partons, more than max_partons = "
                                                           f"{max_partons}")
        phi_b = _phi(*boson)
        jets.sort(key=lambda j: -j[0])
        row = np.zeros((max_partons, 3))
        for k, (pt, eta, phi) in enumerate(jets):
            row[k] = (pt, eta, (phi - phi_b + np.pi) % (2 * np.pi) - np.pi)
        parts.append(row)
        ns.append(len(jets))
        weights.append(float(ev.eventinfo.weight))
        bosons.append((float(np.hypot(*boson)), phi_b))
    return parts, ns, weights, bosons


def dijet_features(ev: dict) -> np.ndarray:
    """Events with exactly two partons as (n, 5) float32 [log pT1, log pT2, eta1, eta2, |dphi|]
    (the ELSA study's features)."""
    two = ev["n_partons"] == 2
    j = ev["partons"][two]
    dphi = np.abs((j[:, 0, 2] - j[:, 1, 2] + np.pi) % (2 * np.pi) - np.pi)
    return np.stack([np.log(j[:, 0, 0]), np.log(j[:, 1, 0]), j[:, 0, 1], j[:, 1, 1], dphi], 1).astype(np.float32)
