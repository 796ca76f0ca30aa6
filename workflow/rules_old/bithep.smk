# BitHEP (Krause, Wang, Winterhalder): binary / ternary BitLinear vs full precision
# on q/g tagging, jet-mass regression and a small flow. One training job per task
# (three precisions each), then the figure and metrics.
import json


BITHEP = config["studies"]["bithep"]
# the fine-class toy, or a real excerpt (data.jetclass.excerpts) by name
BITHEP_JETS = (f"resources/jetclass/excerpt/{BITHEP['excerpt']}/jets.h5" if BITHEP["excerpt"]
               else "resources/jetclass/toy/jets.h5")
# published q/g taggers (ONNX + card): colliderflow.studies.bithep.PUBLISHED
BITHEP_PUBLISHED = ["full", "ternary"]

STUDIES["bithep"] = [
    "results/bithep/metrics.json",
    "results/bithep/bithep.png",
    "results/bithep/published_check.json",
    *expand("results/bithep/published/{precision}/model_card.json", precision=BITHEP_PUBLISHED),
]


rule bithep_task:
    input:
        BITHEP_JETS,
    output:
        json="results/bithep/tasks/{task}.json",
        npz="results/bithep/tasks/{task}.npz",
        # the trained networks (nn.train.save_model: state_dict + hyper-parameters)
        models=expand("results/bithep/models/{{task}}_{precision}.pt", precision=["full", "binary", "ternary"]),
        hparams=expand("results/bithep/models/{{task}}_{precision}.json", precision=["full", "binary", "ternary"]),
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
        "--out-json {output.json} --out-npz {output.npz} --out-models {output.models} --seed {params.seed} "
        "--threads {threads} > {log} 2>&1"


rule bithep_publish:
    input:
        jets=BITHEP_JETS,
        tagging="results/bithep/tasks/tagging.json",
        npz="results/bithep/tasks/tagging.npz",
        models=expand("results/bithep/models/tagging_{precision}.pt", precision=BITHEP_PUBLISHED),
    output:
        check="results/bithep/published_check.json",
        onnx=expand("results/bithep/published/{precision}/model.onnx", precision=BITHEP_PUBLISHED),
        card=expand("results/bithep/published/{precision}/model_card.json", precision=BITHEP_PUBLISHED),
    params:
        script=script("bithep_publish"),
        models=lambda w, input: [f"{p}={m}" for p, m in zip(BITHEP_PUBLISHED, input.models)],
        n_val=200,
    threads: 1
    log:
        "logs/bithep/publish.log",
    benchmark:
        "results/bithep/benchmarks/publish.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --models {params.models} --tagging {input.tagging} --jets {input.jets} "
        "--outdir results/bithep/published --n-val {params.n_val} --out {output.check} --threads {threads} "
        "> {log} 2>&1"


rule bithep_report:
    input:
        expand("results/bithep/tasks/{task}.json", task=["tagging", "regression", "generation"]),
        expand("results/bithep/tasks/{task}.npz", task=["tagging", "regression", "generation"]),
        publish="results/bithep/published_check.json",
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
        "results/bithep/tasks/generation.json --publish {input.publish} > {log} 2>&1"
