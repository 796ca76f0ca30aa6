# Calorimeter showers (CaloChallenge layout) and Convolutional L2LFlows
# (arXiv:2405.20407): toy data, layer-to-layer flows, CaloChallenge-style evaluation.
import json


CALO = config["data"]["calo"]
L2L = config["studies"]["l2lflows"]

STUDIES["l2lflows"] = [
    "results/l2lflows/metrics.json",
    "results/l2lflows/layer_energies.png",
    "results/l2lflows/shower_shapes.png",
    "results/l2lflows/auc.png",
]


rule calo_toy:
    output:
        train="resources/calo/toy/train.h5",
        test="resources/calo/toy/test.h5",
        geometry="resources/calo/toy/binning.xml",
    params:
        script=script("calo_toy"),
        toy=CALO["toy"],
        r_edges=" ".join(str(r) for r in CALO["toy"]["r_edges"]),
        seed=SEED,
    log:
        "logs/calo/toy.log",
    benchmark:
        "results/l2lflows/benchmarks/calo_toy.tsv"
    conda:
        "../../envs/io.yaml"
    threads: 1
    shell:
        "python {params.script} --train-out {output.train} --test-out {output.test} "
        "--geometry-out {output.geometry} --seed {params.seed} --n-train {params.toy[n_train]} "
        "--n-test {params.toy[n_test]} --n-layers {params.toy[n_layers]} --r-edges {params.r_edges} "
        "--n-alpha {params.toy[n_alpha]} --e-min {params.toy[e_min]} --e-max {params.toy[e_max]} "
        "--hits-per-gev {params.toy[hits_per_gev]} --threshold-mev {params.toy[threshold_mev]} > {log} 2>&1"


rule l2lflows_train:
    input:
        unpack(calo_inputs),
    output:
        model="results/l2lflows/l2lflows.pt",
        hparams="results/l2lflows/l2lflows.json",
        generated="results/l2lflows/generated.h5",
        summary="results/l2lflows/train_summary.json",
    params:
        script=script("l2lflows_train"),
        cfg=json.dumps(L2L, sort_keys=True),
        seed=SEED,
    log:
        "logs/l2lflows/train.log",
    benchmark:
        "results/l2lflows/benchmarks/train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} --train {input.train} --test {input.test} --geometry {input.geometry} "
        "--config {params.cfg:q} --model {output.model} --generated {output.generated} "
        "--summary {output.summary} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule l2lflows_report:
    input:
        unpack(calo_inputs),
        generated=rules.l2lflows_train.output.generated,
        summary=rules.l2lflows_train.output.summary,
        tables=L2L["reference_results"],
    output:
        metrics="results/l2lflows/metrics.json",
        layers=report(
            "results/l2lflows/layer_energies.png",
            caption="../report/l2lflows.rst",
            category="arXiv:2405.20407 L2LFlows",
        ),
        shapes=report(
            "results/l2lflows/shower_shapes.png",
            caption="../report/l2lflows.rst",
            category="arXiv:2405.20407 L2LFlows",
        ),
        auc=report(
            "results/l2lflows/auc.png",
            caption="../report/l2lflows.rst",
            category="arXiv:2405.20407 L2LFlows",
        ),
        pdfs=expand("results/l2lflows/{f}.pdf", f=["layer_energies", "shower_shapes", "auc"]),
    params:
        script=script("l2lflows_report"),
        cfg=json.dumps(L2L, sort_keys=True),
        seed=SEED,
        tier=TIER,
    log:
        "logs/l2lflows/report.log",
    benchmark:
        "results/l2lflows/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} --train {input.train} --test {input.test} --geometry {input.geometry} "
        "--generated {input.generated} --summary {input.summary} --config {params.cfg:q} "
        "--tables {input.tables} --outdir results/l2lflows --seed {params.seed} --tier {params.tier} "
        "--threads {threads} > {log} 2>&1"
