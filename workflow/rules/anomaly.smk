# Anomaly detection: the resonant-AD family on LHCO R&D -- R-ANODE (ANODE,
# CATHODE, R-ANODE, IAD, supervised) and TRANSIT share the prepared events,
# one frozen background flow (ranode_background) and the injection scan
# (ranode_scan jobs, merged by ranode_aggregate) -- and the tails search with ABCD (tails_abcd).


# --- R-ANODE (arXiv:2312.11629) ---
S = step("ranode", "background")


rule ranode_background:
    input:
        events=f"resources/lhco/{data_source('lhco')}/events.h5",
    output:
        model="results/ranode/models/background_flow.pt",
        hparams="results/ranode/models/background_flow.json",
    params:
        **S.params,
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


# The injection scan as jobs (colliderflow.studies.ranode.jobs, studies.ranode.scan_job): each job computes
# `method` (or all) at injection `n_sig` (or all) for one seed and training split; it scores TRANSIT too.
from colliderflow.studies.ranode import jobs as ranode_jobs  # noqa: E402

S = step("ranode", "scan", "{method}_n{n_sig}_seed{scan_seed}_split{split}")


rule ranode_scan:
    input:
        events=f"resources/lhco/{data_source('lhco')}/events.h5",
        background=rules.ranode_background.output.model,
        transit="results/transit/models/transit.pt",
    output:
        scan=ranode_jobs.PATTERN,
    wildcard_constraints:
        method=r"all|[a-z_]+",
        n_sig=r"all|\d+",
        scan_seed=r"\d+",
        split=r"\d+",
    group:
        "ranode_scan"
    params:
        **S.params,
        transit=config["studies"]["transit"],
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("ranode", "aggregate")


rule ranode_aggregate:
    input:
        cells=ranode_jobs.paths(config["studies"]["ranode"]),
    output:
        scans="results/ranode/scans.json",
    params:
        **S.params,
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("ranode", "report")


rule ranode_report:
    input:
        scans=rules.ranode_aggregate.output.scans,
    output:
        metrics="results/ranode/metrics.json",
        max_sic=S.figure("results/ranode/max_sic_vs_injection.png"),
        curves=S.figure("results/ranode/sic_curves.png"),
        w=S.figure("results/ranode/learned_w.png"),
        pdfs=expand("results/ranode/{f}.pdf", f=["max_sic_vs_injection", "sic_curves", "learned_w"]),
    params:
        **S.params,
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


# --- TRANSIT: also reads studies.ranode (param `ranode`) and ranode's background flow and scans ---
S = step("transit", "train")


rule transit_train:
    input:
        events=f"resources/lhco/{data_source('lhco')}/events.h5",
    output:
        model="results/transit/models/transit.pt",
        hparams="results/transit/models/transit.json",
    params:
        **S.params,
        ranode=config["studies"]["ranode"],
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("transit", "closure")


rule transit_closure:
    input:
        events=f"resources/lhco/{data_source('lhco')}/events.h5",
        background="results/ranode/models/background_flow.pt",
        transit=rules.transit_train.output.model,
    output:
        json="results/transit/closure.json",
        png=S.figure("results/transit/template_closure.png"),
        pdf="results/transit/template_closure.pdf",
    params:
        **S.params,
        ranode=config["studies"]["ranode"],
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("transit", "report")


rule transit_report:
    input:
        scans=rules.ranode_aggregate.output.scans,
        closure=rules.transit_closure.output.json,
        background="results/ranode/models/background_flow.pt",
        transit=rules.transit_train.output.model,
    output:
        metrics="results/transit/metrics.json",
        png=S.figure("results/transit/transit_max_sic.png"),
        pdf="results/transit/transit_max_sic.pdf",
    params:
        **S.params,
        ranode=config["studies"]["ranode"],
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


# --- tails search with ABCD (arXiv:2404.07258) ---
S = step("tails_abcd", "flow")


rule tails_abcd_flow:
    input:
        toy="resources/tails_abcd/toy/tails.h5",
    output:
        model="results/tails_abcd/flow.pt",
        hparams="results/tails_abcd/flow.json",
        latent="results/tails_abcd/latent.h5",
    params:
        **S.params,
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("tails_abcd", "analysis")


rule tails_abcd_analysis:
    input:
        toy="resources/tails_abcd/toy/tails.h5",
        latent=rules.tails_abcd_flow.output.latent,
        model=rules.tails_abcd_flow.output.model,
    output:
        metrics="results/tails_abcd/metrics.json",
        results="results/tails_abcd/results.json",
        corr=S.figure("results/tails_abcd/score_vs_met.png"),
        closure=S.figure("results/tails_abcd/abcd_closure.png"),
        significance=S.figure("results/tails_abcd/significance.png"),
        mismatch=S.figure("results/tails_abcd/closure_vs_mismatch.png"),
        pdfs=expand("results/tails_abcd/{f}.pdf", f=["score_vs_met", "abcd_closure", "significance",
                                                     "closure_vs_mismatch"]),
    params:
        **S.params,
    log:
        S.log,
    benchmark:
        S.benchmark
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script
