# L-GATr (arXiv:2411.00446): a Lorentz-equivariant transformer (lgatr package) vs a
# plain transformer for top tagging on constituent four-momenta, across training-set
# sizes and seeds, plus a boost/rotation invariance scan. Config: studies.lgatr,
# passed to the scripts as shell-quoted JSON.
import json
import os
import shlex

LGATR = config["studies"]["lgatr"]
LGATR_CFG = shlex.quote(json.dumps({k: v for k, v in LGATR.items() if k not in ("enabled", "seeds", "dataset")},
                                   sort_keys=True, separators=(",", ":")))
LGATR_SEEDS = [SEED + k for k in range(LGATR["seeds"])]

STUDIES["lgatr"] = [
    "results/lgatr/metrics.json",
    "results/lgatr/lgatr_performance.png",
    "results/lgatr/lgatr_invariance.png",
    "results/lgatr/published_check.json",
    "results/lgatr/published/lgatr/model_card.json",
    "results/lgatr/published/baseline/model_card.json",
]
# the toy fine-class file, or the named ParT-format excerpt (real tier)
LGATR_JETS = (
    "resources/jetclass/toy/jets.h5"
    if LGATR["dataset"] == "toy"
    else f"resources/jetclass/excerpt/{LGATR['dataset']}/jets.h5"
)


rule lgatr_train:
    input:
        LGATR_JETS,
    output:
        result="results/lgatr/seed{seed}/result.json",
        lgatr="results/lgatr/seed{seed}/lgatr.pt",
        lgatr_sb="results/lgatr/seed{seed}/lgatr_sb.pt",
        baseline="results/lgatr/seed{seed}/baseline.pt",
    wildcard_constraints:
        seed=r"\d+",
    params:
        script=script("lgatr_train"),
        cfg=LGATR_CFG,
        data_seed=SEED,
    threads: 1
    log:
        "logs/lgatr/train_seed{seed}.log",
    benchmark:
        "results/lgatr/benchmarks/train_seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input} --outdir results/lgatr/seed{wildcards.seed} --cfg {params.cfg} "
        "--seed {wildcards.seed} --data-seed {params.data_seed} --threads {threads} > {log} 2>&1"


rule lgatr_publish:
    input:
        jets=LGATR_JETS,
        models=expand("results/lgatr/seed{seed}/{kind}.pt", seed=LGATR_SEEDS[:1], kind=("lgatr", "baseline")),
        result=expand("results/lgatr/seed{seed}/result.json", seed=LGATR_SEEDS[:1]),
    output:
        check="results/lgatr/published_check.json",
        onnx=expand("results/lgatr/published/{kind}/model.onnx", kind=("lgatr", "baseline")),
        card=expand("results/lgatr/published/{kind}/model_card.json", kind=("lgatr", "baseline")),
    params:
        script=script("lgatr_publish"),
        cfg=LGATR_CFG,
        model_dir=lambda w, input: os.path.dirname(input.result[0]),
        data_seed=SEED,
        n_val=200,
    threads: 1
    log:
        "logs/lgatr/publish.log",
    benchmark:
        "results/lgatr/benchmarks/publish.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input.jets} --model-dir {params.model_dir} --outdir results/lgatr/published "
        "--out {output.check} --cfg {params.cfg} --data-seed {params.data_seed} --n-val {params.n_val} "
        "--threads {threads} > {log} 2>&1"


rule lgatr_report:
    input:
        jets=LGATR_JETS,
        publish="results/lgatr/published_check.json",
        results=expand("results/lgatr/seed{seed}/result.json", seed=LGATR_SEEDS),
        models=expand("results/lgatr/seed{seed}/{kind}.pt", seed=LGATR_SEEDS[:1], kind=("lgatr", "lgatr_sb", "baseline")),
    output:
        metrics="results/lgatr/metrics.json",
        performance=report(
            "results/lgatr/lgatr_performance.png",
            caption="../report/lgatr.rst",
            category="arXiv:2411.00446 L-GATr",
        ),
        performance_pdf="results/lgatr/lgatr_performance.pdf",
        invariance=report(
            "results/lgatr/lgatr_invariance.png",
            caption="../report/lgatr.rst",
            category="arXiv:2411.00446 L-GATr",
        ),
        invariance_pdf="results/lgatr/lgatr_invariance.pdf",
    params:
        script=script("lgatr_report"),
        cfg=LGATR_CFG,
        model_dir=lambda w, input: os.path.dirname(input.models[0]),
        data_seed=SEED,
        tier=TIER,
    threads: 1
    log:
        "logs/lgatr/report.log",
    benchmark:
        "results/lgatr/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input.jets} --results {input.results} --model-dir {params.model_dir} "
        "--outdir results/lgatr --cfg {params.cfg} --data-seed {params.data_seed} --tier {params.tier} "
        "--publish {input.publish} --threads {threads} > {log} 2>&1"
