"""The datasets as a pseudo-study (``data``) of the study contract: one step
per toy generator, download or preparation, each receiving its
``config["data"][<dataset>]`` section. Rules keep the step's name
(``lhco_toy``); the functions are in :mod:`colliderflow.data.steps`.

This module stays light: the Snakefile reads it when it parses the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..study import Step, Study


@dataclass(frozen=True)
class Download:
    url: str
    sha256: str
    checksum: str


@dataclass(frozen=True)
class LhcoToy:
    n_background: int
    n_signal: int
    m_wprime: float
    m_x: float
    m_y: float
    mjj_correlation: float = 0.0


@dataclass(frozen=True)
class Lhco:
    source: str
    format: str
    key: str
    files: tuple[str, ...]
    toy: LhcoToy
    download: Download


@dataclass(frozen=True)
class DimuonToy:
    n_events: int


@dataclass(frozen=True)
class Remote:
    urls: tuple[str, ...]
    file_list: str
    checksums: dict[str, str]
    timeout: float
    retries: int
    backoff: float
    on_unreachable: str


@dataclass(frozen=True)
class Dimuon:
    source: str
    files: tuple[str, ...]
    toy: DimuonToy
    download: Download
    remote: Remote


@dataclass(frozen=True)
class ToptagToy:
    n_jets: int


@dataclass(frozen=True)
class Toptag:
    source: str
    files: tuple[str, ...]
    toy: ToptagToy


@dataclass(frozen=True)
class NanoaodToy:
    n_events: int
    processes: tuple[str, ...]


@dataclass(frozen=True)
class Nanoaod:
    toy: NanoaodToy


@dataclass(frozen=True)
class JetsToy:
    n_jets: int
    n_max: int


@dataclass(frozen=True)
class Jets:
    source: str
    files: tuple[str, ...]
    class_names: tuple[str, ...]
    toy: JetsToy


@dataclass(frozen=True)
class JetclassToy:
    n_jets: int
    n_max: int
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Excerpt:
    folder: str
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class Jetclass:
    toy: JetclassToy
    excerpts: dict[str, Excerpt]


@dataclass(frozen=True)
class CaloToy:
    n_train: int
    n_test: int
    n_layers: int
    r_edges: tuple[float, ...]
    n_alpha: int
    e_min: float
    e_max: float
    hits_per_gev: float
    threshold_mev: float
    binning: str = ""


@dataclass(frozen=True)
class Calo:
    source: str
    files: tuple[str, ...]
    geometry: str
    toy: CaloToy


def _step(name: str, dataset: str, cfg: type, **kw) -> Step:
    return Step(name, env="io", section=f"data/{dataset}", config=cfg, **kw)


STUDY = Study(
    name="data",
    paper="-",
    title="Datasets: toy generators, local files and downloads",
    claim="-",
    package="colliderflow.data",
    steps=(
        _step("lhco_toy", "lhco", Lhco, cached=True, mem_mb=4000, runtime=20,
              doc="LHCO R&D features HDF5 toy (QCD dijets + W'->XY)"),
        _step("lhco_download", "lhco", Lhco, cached=True, runtime=60, doc="the official LHCO R&D file"),
        _step("lhco_prepare", "lhco", Lhco, mem_mb=4000, runtime=20,
              doc="any LHCO format -> the anomaly-detection table"),
        _step("dimuon_toy", "dimuon", Dimuon, cached=True, runtime=15, doc="Drell-Yan + quarkonia NanoAOD toy"),
        _step("dimuon_download", "dimuon", Dimuon, cached=True, runtime=60, doc="CMS 2012 DoubleMu open data"),
        _step("dimuon_ingest", "dimuon", Dimuon, runtime=30, outputs=("part", "report"),
              doc="one NanoAOD file (local, http or xrootd) -> its muons as a slim NanoAOD part"),
        _step("dimuon_merge", "dimuon", Dimuon, runtime=30, inputs=("parts", "reports"), outputs=("muons", "report"),
              doc="the parts of a dataset -> one muon file"),
        _step("toptag_toy", "toptag", Toptag, doc="top/QCD constituents in the ParT .npy layout"),
        _step("nanoaod_toy", "nanoaod", Nanoaod, doc="one process of the multi-process NanoAOD toy"),
        _step("jets_toy", "jets", Jets, doc="5-class jet-constituent toy"),
        _step("jets_prepare", "jets", Jets, doc="a ParT-format excerpt -> the jet-constituent HDF5"),
        _step("jetclass_toy", "jetclass", Jetclass, cached=True, doc="11-class fine-grained jet toy"),
        _step("jetclass_excerpt", "jetclass", Jetclass, doc="a ParT-format excerpt -> the jet-constituent HDF5"),
        _step("calo_toy", "calo", Calo, inputs=("binning",), outputs=("train", "test", "geometry"),
              doc="layered calorimeter showers in the CaloChallenge layout (geometry: the config's, or the "
                  "binning XML of data.calo.toy.binning)"),
    ),
)
