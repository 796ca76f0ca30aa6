# FAB (arXiv:2411.16234): flow annealed importance sampling bootstrap on a
# differentiable Dalitz-plot matrix element, vs reverse KL, forward KL, VEGAS.
# The study section goes to the script as shell-quoted JSON.
import json
import shlex

FAB_CFG = shlex.quote(json.dumps(config["studies"]["fab"], sort_keys=True, separators=(",", ":")))

STUDIES["fab"] = [
    "results/fab/metrics.json",
    "results/fab/efficiency.png",
    "results/fab/dalitz.png",
]


rule fab_train:
    output:
        metrics="results/fab/metrics.json",
        curves="results/fab/curves.json",
        efficiency=report(
            "results/fab/efficiency.png",
            caption="../report/fab.rst",
            category="arXiv:2411.16234 FAB",
        ),
        dalitz=report(
            "results/fab/dalitz.png",
            caption="../report/fab.rst",
            category="arXiv:2411.16234 FAB",
        ),
        pdfs=expand("results/fab/{f}.pdf", f=["efficiency", "dalitz"]),
    params:
        script=script("fab_study"),
        cfg=FAB_CFG,
        seed=SEED,
        tier=TIER,
    log:
        "logs/fab/train.log",
    benchmark:
        "results/fab/benchmarks/train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} --outdir results/fab --cfg {params.cfg} --seed {params.seed} "
        "--threads {threads} --tier {params.tier} > {log} 2>&1"
