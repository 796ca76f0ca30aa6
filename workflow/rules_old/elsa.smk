# ELSA (arXiv:2305.07696): an under-trained flow surrogate of Z+2 jets improved by
# DCTR reweighting and by LASER (weights pulled back to the latent space, HMC).
# The study section goes to the script as shell-quoted JSON.
import json
import shlex

ELSA_CFG = shlex.quote(json.dumps(config["studies"]["elsa"], sort_keys=True, separators=(",", ":")))

STUDIES["elsa"] = [
    "results/elsa/metrics.json",
    "results/elsa/ratios.png",
    "results/elsa/roc.png",
]


rule elsa_study:
    output:
        metrics="results/elsa/metrics.json",
        ratios=report(
            "results/elsa/ratios.png",
            caption="../report/elsa.rst",
            category="arXiv:2305.07696 ELSA",
        ),
        roc=report(
            "results/elsa/roc.png",
            caption="../report/elsa.rst",
            category="arXiv:2305.07696 ELSA",
        ),
        pdfs=expand("results/elsa/{f}.pdf", f=["ratios", "roc"]),
    params:
        script=script("elsa_study"),
        cfg=ELSA_CFG,
        seed=SEED,
        tier=TIER,
    log:
        "logs/elsa/study.log",
    benchmark:
        "results/elsa/benchmarks/study.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} --outdir results/elsa --cfg {params.cfg} --seed {params.seed} "
        "--threads {threads} --tier {params.tier} > {log} 2>&1"
