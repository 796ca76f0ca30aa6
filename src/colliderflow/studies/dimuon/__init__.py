"""Dimuon spectrum from CMS NanoAOD: the end-to-end proof of the NanoAOD path
(toy Drell-Yan + quarkonia, or the CMS 2012 DoubleMu open data)."""

from __future__ import annotations

from dataclasses import dataclass

from ...study import Step, Study, Verdict

Z_MASS_PDG, JPSI_MASS_PDG, UPSILON_MASS_PDG = 91.1876, 3.0969, 9.4603


@dataclass(frozen=True)
class Config:
    max_events: int


def verdict(metrics: dict, cfg: Config) -> Verdict:
    """Z within 1 GeV, J/psi within 50 MeV and Upsilon(1S) within 100 MeV of the PDG masses."""
    z = metrics["z"]["mass"]
    holds = (abs(z - Z_MASS_PDG) < 1.0 and abs(metrics["jpsi"]["mass"] - JPSI_MASS_PDG) < 0.05
             and abs(metrics["upsilon1s"]["mass"] - UPSILON_MASS_PDG) < 0.1)
    return Verdict(holds=bool(holds), key_metric={"name": "fitted Z mass", "value": round(z, 3), "unit": "GeV"})


STUDY = Study(
    name="dimuon",
    paper="CMS open data dimuon",
    title="Dimuon mass spectrum from NanoAOD (J/psi, Upsilon, Z)",
    claim="Z peak within 1 GeV of 91.19 GeV; J/psi and Upsilon(1S) peaks at their PDG masses",
    config=Config,
    steps=(Step("spectrum", outputs=("metrics", "png", "pdf", "masses"), env="plot", mem_mb=4000, runtime=20,
                doc="read the muons, histogram, fit the peaks, plot, judge"),),
    figures=("dimuon_spectrum",),
    category="Dimuon spectrum (CMS open data)",
    verdict=verdict,
)
