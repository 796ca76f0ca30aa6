# Jet tagging on FPGAs (arXiv:2402.01876) and published models (arXiv:2312.14575).
# Jets -> float + QAT taggers per (arch, N) -> hls4ml C-sim -> synthesis (vendor or
# open stand-in) -> figures/metrics; every float tagger published as ONNX + card.
import json


FPGA = config["studies"]["fpga_tagging"]
FPGA_MODELS = [f"{a}_N{n}" for a in FPGA["archs"] for n in FPGA["n_constituents"]] + [
    f"interaction_N{n}" for n in FPGA["in_sizes"]
]

STUDIES["fpga_tagging"] = [
    "results/fpga_tagging/metrics.json",
    "results/fpga_tagging/fpga_scaling.png",
    "results/fpga_tagging/synthesis_report.json",
]


rule jets_toy:
    output:
        "resources/jets/toy/jets.h5",
    params:
        script=script("jets_toy"),
        n_jets=config["data"]["jets"]["toy"]["n_jets"],
        n_max=config["data"]["jets"]["toy"]["n_max"],
        seed=SEED,
    log:
        "logs/data/jets_toy.log",
    benchmark:
        "results/data/benchmarks/jets_toy.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-jets {params.n_jets} --n-max {params.n_max} "
        "--seed {params.seed} > {log} 2>&1"


rule jets_prepare:
    input:
        lambda w: config["data"]["jets"]["files"][:1],
    output:
        "resources/jets/file/jets.h5",
    params:
        script=script("jets_prepare"),
        n_max=config["data"]["jets"]["toy"]["n_max"],
        classes=" ".join(config["data"]["jets"]["class_names"]),
    log:
        "logs/data/jets_prepare.log",
    benchmark:
        "results/data/benchmarks/jets_prepare.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-max {params.n_max} "
        "--class-names {params.classes} --folder {input} > {log} 2>&1"


rule fpga_train:
    input:
        lambda w: f"resources/jets/{config['data']['jets']['source']}/jets.h5",
    output:
        train="results/fpga_tagging/models/{arch}_N{n}/train.json",
        qat="results/fpga_tagging/models/{arch}_N{n}/qat.pt",
        flt="results/fpga_tagging/models/{arch}_N{n}/float.pt",
        onnx="results/fpga_tagging/models/{arch}_N{n}/published/model.onnx",
        card="results/fpga_tagging/models/{arch}_N{n}/published/model_card.json",
    wildcard_constraints:
        arch="[a-z]+",
        n=r"\d+",
    params:
        script=script("fpga_train"),
        hidden=lambda w: json.dumps(FPGA["hidden"]),
        bits=FPGA["bits"],
        epochs=FPGA["epochs"],
        batch_size=FPGA["batch_size"],
        lr=FPGA["lr"],
        seed=SEED,
    threads: 1
    log:
        "logs/fpga_tagging/train_{arch}_N{n}.log",
    benchmark:
        "results/fpga_tagging/benchmarks/train_{arch}_N{n}.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --jets {input} --outdir results/fpga_tagging/models/{wildcards.arch}_N{wildcards.n} "
        "--arch {wildcards.arch} --n {wildcards.n} --hidden '{params.hidden}' --bits {params.bits} "
        "--epochs {params.epochs} --batch-size {params.batch_size} --lr {params.lr} --seed {params.seed} "
        "--threads {threads} > {log} 2>&1"


rule fpga_hls:
    input:
        qat="results/fpga_tagging/models/{model}/qat.pt",
        train="results/fpga_tagging/models/{model}/train.json",
    output:
        "results/fpga_tagging/hls/{model}/csim.json",
    params:
        script=script("fpga_hls"),
        n_eval=FPGA["n_eval"],
    threads: 1
    log:
        "logs/fpga_tagging/hls_{model}.log",
    benchmark:
        "results/fpga_tagging/benchmarks/hls_{model}.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --model-dir results/fpga_tagging/models/{wildcards.model} "
        "--outdir results/fpga_tagging/hls/{wildcards.model} --n-eval {params.n_eval} --threads {threads} > {log} 2>&1"


rule fpga_synth:
    input:
        csim=expand("results/fpga_tagging/hls/{model}/csim.json", model=FPGA_MODELS),
        rtl=expand("results/fpga_tagging/models/{model}/qat.pt", model=FPGA["rtl_models"]),
    output:
        "results/fpga_tagging/synthesis_report.json",
    params:
        script=script("fpga_synth"),
        rtl=" ".join(f"{m}=results/fpga_tagging/models/{m}" for m in FPGA["rtl_models"]),
        n_sim=FPGA["rtl_n_sim"],
        yosys="--yosys" if FPGA["yosys"] else "",
        yosys_timeout=FPGA["yosys_timeout"],
    threads: 2
    log:
        "logs/fpga_tagging/synth.log",
    benchmark:
        "results/fpga_tagging/benchmarks/synth.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --out {output} --rtl-dir results/fpga_tagging/rtl "
        "--rtl-model {params.rtl} --n-sim {params.n_sim} {params.yosys} --yosys-timeout {params.yosys_timeout} "
        "{input.csim} > {log} 2>&1"


rule publish_verify:
    input:
        onnx="results/fpga_tagging/models/{model}/published/model.onnx",
        card="results/fpga_tagging/models/{model}/published/model_card.json",
    output:
        "results/fpga_tagging/published_check/{model}.json",
    params:
        script=script("publish_verify"),
        atol=1e-5,
    log:
        "logs/fpga_tagging/publish_verify_{model}.log",
    benchmark:
        "results/fpga_tagging/benchmarks/publish_verify_{model}.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --out {output} --atol {params.atol} "
        "results/fpga_tagging/models/{wildcards.model}/published > {log} 2>&1"


rule fpga_report:
    input:
        train=expand("results/fpga_tagging/models/{model}/train.json", model=FPGA_MODELS),
        csim=expand("results/fpga_tagging/hls/{model}/csim.json", model=FPGA_MODELS),
        synth="results/fpga_tagging/synthesis_report.json",
        verify=expand("results/fpga_tagging/published_check/{model}.json", model=FPGA_MODELS),
    output:
        metrics="results/fpga_tagging/metrics.json",
        png=report(
            "results/fpga_tagging/fpga_scaling.png",
            caption="../report/fpga_tagging.rst",
            category="arXiv:2402.01876 FPGA jet tagging",
        ),
        pdf="results/fpga_tagging/fpga_scaling.pdf",
    params:
        script=script("fpga_report"),
        min_agreement=FPGA["min_agreement"],
        tier=TIER,
    log:
        "logs/fpga_tagging/report.log",
    benchmark:
        "results/fpga_tagging/benchmarks/report.tsv"
    conda:
        "../../envs/hls.yaml"
    shell:
        "python {params.script} --outdir results/fpga_tagging --tier {params.tier} --train {input.train} "
        "--csim {input.csim} --synth {input.synth} --verify {input.verify} "
        "--min-agreement {params.min_agreement} > {log} 2>&1"
