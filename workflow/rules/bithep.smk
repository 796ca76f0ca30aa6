# BitHEP (Krause, Wang, Winterhalder): binary / ternary BitLinear vs full precision
# on q/g tagging, jet-mass regression and a small flow. One training job per task
# (three precisions each), then the figure and metrics.
import json


BITHEP = config["studies"]["bithep"]

STUDIES["bithep"] = [
    "results/bithep/metrics.json",
    "results/bithep/bithep.png",
]


rule bithep_task:
    input:
        # the fine-class toy, or a real excerpt (data.jetclass.excerpts) by name
        lambda w: (f"resources/jetclass/excerpt/{BITHEP['excerpt']}/jets.h5" if BITHEP["excerpt"]
                   else "resources/jetclass/toy/jets.h5"),
    output:
        json="results/bithep/tasks/{task}.json",
        npz="results/bithep/tasks/{task}.npz",
    wildcard_constraints:
        task="tagging|regression|generation",
    params:
        script=script("bithep_task"),
        cfg=json.dumps({k: v for k, v in BITHEP.items() if k not in ("enabled", "excerpt")}),
        seed=SEED,
    threads: 1
    log:
        "logs/bithep/task_{task}.log",
    benchmark:
        "results/bithep/benchmarks/task_{task}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --task {wildcards.task} --jets {input} --config '{params.cfg}' "
        "--out-json {output.json} --out-npz {output.npz} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule bithep_report:
    input:
        expand("results/bithep/tasks/{task}.json", task=["tagging", "regression", "generation"]),
        expand("results/bithep/tasks/{task}.npz", task=["tagging", "regression", "generation"]),
    output:
        metrics="results/bithep/metrics.json",
        png=report(
            "results/bithep/bithep.png",
            caption="../report/bithep.rst",
            category="BitHEP (Krause, Wang, Winterhalder)",
        ),
        pdf="results/bithep/bithep.pdf",
    params:
        script=script("bithep_report"),
        auc_loss_max=BITHEP["auc_loss_max"],
        tier=TIER,
    log:
        "logs/bithep/report.log",
    benchmark:
        "results/bithep/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --outdir results/bithep --tier {params.tier} --auc-loss-max {params.auc_loss_max} "
        "--results results/bithep/tasks/tagging.json results/bithep/tasks/regression.json "
        "results/bithep/tasks/generation.json > {log} 2>&1"
