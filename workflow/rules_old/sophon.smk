# Sophon-style signature pre-training (arXiv:2405.12972): a ParT-like tagger
# pre-trained on the fine jet-class toy with one resonance held out, then
# transferred to that resonance vs QCD (fine-tune / linear probe / scratch).
import json

SOPHON = config["studies"]["sophon"]
SOPHON_PRETRAIN_KEYS = ("heldout", "n_constituents", "dim", "heads", "layers", "n_test", "pretrain_qcd_fraction",
                        "n_pretrain_per_class", "pretrain_epochs", "batch_size", "lr")

STUDIES["sophon"] = [
    "results/sophon/metrics.json",
    "results/sophon/rejection_vs_labelled.png",
    "results/sophon/published_check.json",
]


rule sophon_pretrain:
    input:
        "resources/jetclass/toy/jets.h5",
    output:
        "resources/sophon/pretrained.pt",
    params:
        script=script("sophon_pretrain"),
        code=source_hash("sophon_pretrain", "studies/sophon.py", "nn", "data/jet_constituents.py"),
        cfg=json.dumps({k: SOPHON[k] for k in SOPHON_PRETRAIN_KEYS}),
        seed=SEED,
    threads: 1
    log:
        "logs/sophon/pretrain.log",
    cache: "omit-software"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input} --out {output} --config '{params.cfg}' --seed {params.seed} "
        "--threads {threads} > {log} 2>&1"


rule sophon_transfer:
    input:
        jets="resources/jetclass/toy/jets.h5",
        pretrained="resources/sophon/pretrained.pt",
    output:
        "results/sophon/transfer.json",
    params:
        script=script("sophon_transfer"),
        cfg=json.dumps({k: v for k, v in SOPHON.items() if k != "enabled"}),
        seed=SEED,
    threads: 1
    log:
        "logs/sophon/transfer.log",
    benchmark:
        "results/sophon/benchmarks/transfer.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input.jets} --pretrained {input.pretrained} --config '{params.cfg}' "
        "--seed {params.seed} --out {output} --threads {threads} > {log} 2>&1"


rule sophon_publish:
    input:
        jets="resources/jetclass/toy/jets.h5",
        pretrained="resources/sophon/pretrained.pt",
    output:
        check="results/sophon/published_check.json",
        onnx="results/sophon/published/model.onnx",
        card="results/sophon/published/model_card.json",
    params:
        script=script("sophon_publish"),
        n_val=200,
    threads: 1
    log:
        "logs/sophon/publish.log",
    benchmark:
        "results/sophon/benchmarks/publish.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --pretrained {input.pretrained} --jets {input.jets} --outdir results/sophon/published "
        "--n-val {params.n_val} --out {output.check} --threads {threads} > {log} 2>&1"


rule sophon_report:
    input:
        transfer="results/sophon/transfer.json",
        publish="results/sophon/published_check.json",
    output:
        metrics="results/sophon/metrics.json",
        png=report(
            "results/sophon/rejection_vs_labelled.png",
            caption="../report/sophon.rst",
            category="arXiv:2405.12972 Sophon pre-training",
        ),
        pdf="results/sophon/rejection_vs_labelled.pdf",
    params:
        script=script("sophon_report"),
        tier=TIER,
    log:
        "logs/sophon/report.log",
    benchmark:
        "results/sophon/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --transfer {input.transfer} --publish {input.publish} --outdir results/sophon "
        "--tier {params.tier} > {log} 2>&1"
