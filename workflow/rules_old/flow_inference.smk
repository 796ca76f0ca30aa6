# Conditional flows for inference (issue 7): BSM scan (arXiv:2409.13201), MLE
# calibration (Du et al.), likelihood communication (Araz et al., nabu),
# classifier surrogates (arXiv:2402.15558).
import json

FLOW_INFERENCE = {
    "bsm_scan": "arXiv:2409.13201 BSM scan",
    "mle_calibration": "Du et al. MLE calibration",
    "likelihood_flows": "Araz et al. likelihoods with flows",
}
STUDIES["classifier_surrogates"] = [
    "results/classifier_surrogates/metrics.json",
    "results/classifier_surrogates/classifier_surrogates.png",
]
for _s in FLOW_INFERENCE:
    STUDIES[_s] = [f"results/{_s}/metrics.json", f"results/{_s}/{_s}.png"]


rule flow_inference:
    output:
        metrics="results/{fi_study}/metrics.json",
        png=report(
            "results/{fi_study}/{fi_study}.png",
            caption="../report/flow_inference.rst",
            category="Conditional flows for inference",
            subcategory="{fi_study}",
        ),
        pdf="results/{fi_study}/{fi_study}.pdf",
    wildcard_constraints:
        fi_study="|".join(FLOW_INFERENCE),
    params:
        cfg=lambda w: json.dumps(config["studies"][w.fi_study], sort_keys=True),
        seed=SEED,
        tier=TIER,
        script=os.path.join(SCRIPTS, "flow_inference.py"),
    log:
        "logs/{fi_study}/{fi_study}.log",
    benchmark:
        "results/{fi_study}/benchmarks/{fi_study}.tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --study {wildcards.fi_study} --config {params.cfg:q} "
        "--outdir results/{wildcards.fi_study} --seed {params.seed} --tier {params.tier} --threads {threads} > {log} 2>&1"


rule classifier_surrogates:
    input:
        toptag_inputs,
    output:
        metrics="results/classifier_surrogates/metrics.json",
        png=report(
            "results/classifier_surrogates/classifier_surrogates.png",
            caption="../report/classifier_surrogates.rst",
            category="Conditional flows for inference",
            subcategory="classifier_surrogates",
        ),
        pdf="results/classifier_surrogates/classifier_surrogates.pdf",
    params:
        cfg=lambda w: json.dumps(config["studies"]["classifier_surrogates"], sort_keys=True),
        prefix=toptag_prefix(),
        seed=SEED,
        tier=TIER,
        script=os.path.join(SCRIPTS, "flow_inference.py"),
    log:
        "logs/classifier_surrogates/classifier_surrogates.log",
    benchmark:
        "results/classifier_surrogates/benchmarks/classifier_surrogates.tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --study classifier_surrogates --config {params.cfg:q} "
        "--inputs {params.prefix} --outdir results/classifier_surrogates --seed {params.seed} --tier {params.tier} "
        "--threads {threads} > {log} 2>&1"
