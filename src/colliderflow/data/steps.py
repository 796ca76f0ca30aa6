"""Dataset steps (the ``data`` pseudo-study, :mod:`colliderflow.data.spec`).

Each function is the body of the Snakemake rule of the same name and
receives a :class:`colliderflow.study.Context` whose ``cfg`` is the
dataset's ``config["data"][<dataset>]`` section.
"""

from __future__ import annotations

from ..errors import InputError
from ..study import Context


def lhco_toy(ctx: Context) -> None:
    from . import lhco

    t = ctx.cfg.toy
    df = lhco.generate_toy_features(t.n_background, t.n_signal, ctx.seed, m_wprime=t.m_wprime, m_x=t.m_x, m_y=t.m_y,
                                    mjj_correlation=t.mjj_correlation)
    lhco.write_toy_features(ctx.output[0], df)


def _download(ctx: Context) -> None:
    from .download import ensure

    d = ctx.cfg.download
    ensure(d.url, ctx.output[0], sha256=d.sha256, checksum=d.checksum)


lhco_download = dimuon_download = _download


def lhco_prepare(ctx: Context) -> None:
    from ..io import write_table
    from . import lhco

    fmt = ctx.cfg.format if ctx.cfg.source == "file" else "features"
    inputs = list(ctx.input)
    counts: dict = {}
    df = lhco.read_ad_table(fmt, inputs, counts, key=ctx.cfg.key)
    # rows dropped for a known defect of the source (the reclustered excerpt's tau1 = tau2 = 0 jets) travel
    # with the table, so the studies can report them
    write_table(ctx.output[0], df, attrs={"format": fmt, "sources": inputs, "units": "TeV",
                                          "columns": lhco.AD_COLUMNS, "n_signal": int(df["label"].sum()),
                                          "dropped": counts})
    ctx.logger.info("%d events (%d labelled signal) -> %s; dropped: %s", len(df), int(df["label"].sum()),
                    ctx.output[0], counts or "none")


def dimuon_toy(ctx: Context) -> None:
    from .toy_nanoaod import write_dimuon

    write_dimuon(ctx.output[0], ctx.cfg.toy.n_events, ctx.seed)


def dimuon_ingest(ctx: Context) -> None:
    from . import ingest, remote

    r = ctx.cfg.remote
    parts = remote.dataset_parts(ctx.cfg, "data.dimuon")
    index = int(ctx.wildcards["index"])
    if index >= len(parts):
        raise InputError("config", "data.dimuon", f"the dataset has {len(parts)} files, no file {index}")
    part, checksum = parts[index]
    ingest.ingest(part, ctx.output.part, ctx.output.report, source=ctx.cfg.source,
                  checksum=remote.Checksum.parse(checksum, part, "checksum") if checksum else None,
                  timeout=r.timeout, retries=r.retries, backoff=r.backoff, on_unreachable=r.on_unreachable)


def dimuon_merge(ctx: Context) -> None:
    from . import ingest

    out = ingest.merge(list(ctx.input.parts), list(ctx.input.reports), ctx.output.muons, ctx.output.report)
    ctx.logger.info("%d files, %d events -> %s; skipped: %s", len(out["files"]), out["events"], ctx.output.muons,
                    [s["source"] for s in out["skipped"]] or "none")


def toptag_toy(ctx: Context) -> None:
    from . import part_jets

    prefix = ctx.output[0].removesuffix("_pf_vectors.npy")
    part_jets.write_jets(prefix, part_jets.generate_toy(ctx.cfg.toy.n_jets, seed=ctx.seed))


def nanoaod_toy(ctx: Context) -> None:
    from .toy_nanoaod import PROCESSES, write_process

    process = ctx.wildcards["process"]
    if process not in PROCESSES:
        raise InputError("config", "data.nanoaod.toy.processes",
                         f"unknown process {process!r} (known: {', '.join(sorted(PROCESSES))})")
    write_process(ctx.output[0], process, ctx.cfg.toy.n_events, ctx.seed)


def _jets_toy(ctx: Context, classes: tuple[str, ...]) -> None:
    from .jet_constituents import generate_toy, write_jets

    t = ctx.cfg.toy
    jets = generate_toy(t.n_jets, t.n_max, ctx.seed, classes=tuple(classes))
    write_jets(ctx.output[0], jets, "toy", {"generator": "colliderflow.data.jet_constituents.generate_toy",
                                            "n_jets": t.n_jets, "seed": ctx.seed, "classes": list(classes)})


def jets_toy(ctx: Context) -> None:
    from .jet_constituents import TOY_CLASSES

    _jets_toy(ctx, TOY_CLASSES)


def _excerpt(ctx: Context, class_names: tuple[str, ...], n_max: int) -> None:
    from .jet_constituents import read_part_excerpt, write_jets

    folder = ctx.input[0]
    write_jets(ctx.output[0], read_part_excerpt(folder, n_max, list(class_names)), f"file:{folder}",
               {"folder": folder})


def jets_prepare(ctx: Context) -> None:
    _excerpt(ctx, ctx.cfg.class_names, ctx.cfg.toy.n_max)


def jetclass_toy(ctx: Context) -> None:
    _jets_toy(ctx, ctx.cfg.toy.classes)


def jetclass_excerpt(ctx: Context) -> None:
    _excerpt(ctx, ctx.cfg.excerpts[ctx.wildcards["name"]].class_names, ctx.cfg.toy.n_max)


def calo_toy(ctx: Context) -> None:
    from . import calochallenge

    t = ctx.cfg.toy
    calochallenge.write_toy(ctx.output.train, ctx.output.test, ctx.output.geometry, n_train=t.n_train,
                            n_test=t.n_test, n_layers=t.n_layers, r_edges=list(t.r_edges), n_alpha=t.n_alpha,
                            e_min=t.e_min, e_max=t.e_max, seed=ctx.seed, hits_per_gev=t.hits_per_gev,
                            threshold_mev=t.threshold_mev, binning=ctx.input.names().get("binning") or None)
