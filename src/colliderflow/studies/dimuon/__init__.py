"""Dimuon spectrum from CMS NanoAOD: the end-to-end proof of the NanoAOD path
(toy Drell-Yan + quarkonia, or the CMS 2012 DoubleMu open data)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...study import Step, Study, Verdict
from ...verdict import Comparison

Z_MASS_PDG, JPSI_MASS_PDG, UPSILON_MASS_PDG = 91.1876, 3.0969, 9.4603


@dataclass(frozen=True)
class Config:
    max_events: int
    bootstrap: int


#: tolerance on |fitted - PDG| (GeV) per peak (at 2 bootstrap standard errors) and why
TOLERANCE = {
    "z": (0.6, "0.6 GeV (0.66 %): the Voigtian has no final-state-radiation tail, which pulls its peak down by a few "
               "tenths of a GeV, and the 2012 muons carry no momentum-scale correction (a few per mille); a 1 % "
               "momentum-scale error (0.9 GeV) fails"),
    "jpsi": (0.0093, "0.3 % of the J/psi mass: the uncorrected low-pT muon momentum scale (a few per mille); a 1 % "
                     "scale error fails"),
    "upsilon1s": (0.028, "0.3 % of the Upsilon(1S) mass: the uncorrected muon momentum scale; a 1 % scale error "
                         "fails"),
}
PDG = {"z": Z_MASS_PDG, "jpsi": JPSI_MASS_PDG, "upsilon1s": UPSILON_MASS_PDG}
NAMES = {"z": "Z", "jpsi": "J/psi", "upsilon1s": "Upsilon(1S)"}


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Each fitted peak against its PDG mass (within a stated tolerance at 2
    bootstrap standard errors: the refits of resampled pairs, which also show
    whether the fit is stable; MIGRAD's validity flag is recorded beside it),
    and the Z against the background-only null (a fitted signal yield more
    than 5 standard errors above zero)."""
    boot = metrics["bootstrap"]
    err, nb = boot["error"], boot["n"]

    def error(key: str) -> float:
        return err[key]

    def peak(k: str) -> Comparison:
        fitted = math.isfinite(metrics[k]["mass"])  # fit_peak does not fit fewer than 30 pairs
        return Comparison.within(f"PDG {NAMES[k]} mass {PDG[k]:g} GeV", f"fitted {NAMES[k]} mass (GeV)",
                                 metrics[k]["mass"] if fitted else PDG[k], PDG[k], error(k) if fitted else math.inf,
                                 tolerance=TOLERANCE[k][0], n=nb, over="bootstrap",
                                 reason=TOLERANCE[k][1] + ("" if fitted else "; not fitted: too few pairs"))

    comps = [peak(k) for k in PDG]
    comps.append(Comparison.estimate("background only (no Z)", "fitted Z signal yield", metrics["z"]["n_signal"],
                                     0.0, err["z_n_signal"], n=nb, over="bootstrap", k=5.0,
                                     null=True, reason="5 standard errors: the discovery convention"))
    z = metrics["z"]["mass"]
    return Verdict.of(comps, key_metric={"name": "fitted Z mass", "value": round(z, 3), "unit": "GeV"})


STUDY = Study(
    name="dimuon",
    paper="CMS open data dimuon",
    title="Dimuon mass spectrum from NanoAOD (J/psi, Upsilon, Z)",
    claim="the Z, J/psi and Upsilon(1S) peaks of the opposite-sign dimuon spectrum sit at their PDG masses (Z within "
          "0.6 GeV, J/psi and Upsilon(1S) within 0.3 %)",
    config=Config,
    steps=(Step("spectrum", outputs=("metrics", "png", "pdf", "masses"), env="plot", mem_mb=4000, runtime=20,
                doc="read the muons, histogram, fit the peaks, plot, judge"),),
    figures=("dimuon_spectrum",),
    category="Dimuon spectrum (CMS open data)",
    verdict=verdict,
)
