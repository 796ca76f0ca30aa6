# Event classification with a shared set encoder on NanoAOD (issue 6):
# decay-aware multi-task net (arXiv:2212.08759), self-supervised pre-training
# (arXiv:2312.06909) and a unified latent space of models (arXiv:2407.20315).
# Jet tagging on FPGAs (arXiv:2402.01876) and published models (arXiv:2312.14575).


S = step("decay_aware", "train")


rule decay_aware_train:
    input:
        toy=lambda w: expand(
            "resources/nanoaod/toy/{process}.root",
            process=[config["studies"]["decay_aware"][k] for k in ("signal", "background")],
        ),
    output:
        metrics="results/decay_aware/metrics.json",
        png=S.figure("results/decay_aware/auc_vs_size.png"),
        pdf="results/decay_aware/auc_vs_size.pdf",
        model="results/decay_aware/multitask_encoder.pt",
        model_json="results/decay_aware/multitask_encoder.json",
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


# Unlabelled events: the toy process mixture, or real NanoAOD files (real tier).
S = step("pretraining", "encoder")


rule pretraining_encoder:
    input:
        toy=lambda w: (
            expand("resources/nanoaod/toy/{process}.root", process=config["data"]["nanoaod"]["toy"]["processes"])
            if config["studies"]["pretraining"]["unlabelled"]["source"] == "toy"
            else config["studies"]["pretraining"]["unlabelled"]["files"]
        ),
    output:
        model="resources/eventclass/pretrained_encoder.pt",
        model_json="resources/eventclass/pretrained_encoder.json",
    params:
        **S.params,
    log:
        S.log,
    cache: S.cache
    conda:
        S.conda
    resources:
        **S.resources,
    script:
        S.script


S = step("pretraining", "finetune")


rule pretraining_finetune:
    input:
        toy=lambda w: expand(
            "resources/nanoaod/toy/{process}.root",
            process=[config["studies"]["pretraining"][k] for k in ("signal", "background")],
        ),
        encoder=rules.pretraining_encoder.output.model,
    output:
        metrics="results/pretraining/metrics.json",
        png=S.figure("results/pretraining/learning_curves.png"),
        pdf="results/pretraining/learning_curves.pdf",
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


S = step("latent_space", "train")


rule latent_space_train:
    input:
        toy=lambda w: expand(
            "resources/nanoaod/toy/{process}.root", process=config["studies"]["latent_space"]["models"]
        ),
    output:
        metrics="results/latent_space/metrics.json",
        png=S.figure("results/latent_space/latent_map.png"),
        pdf="results/latent_space/latent_map.pdf",
        model="results/latent_space/latent_encoder.pt",
        model_json="results/latent_space/latent_encoder.json",
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


# FPGA jet tagging: jets -> float + QAT taggers per (arch, N) -> hls4ml C-sim ->
# synthesis (vendor or open stand-in) -> figures/metrics; every float tagger
# published as ONNX + card and re-checked in onnxruntime.


# every tagger: <arch>_N<n> per architecture and N, and the interaction network at in_sizes
FPGA_TAGGING_MODELS = [
    f"{a}_N{n}"
    for a in config["studies"]["fpga_tagging"]["archs"]
    for n in config["studies"]["fpga_tagging"]["n_constituents"]
] + [f"interaction_N{n}" for n in config["studies"]["fpga_tagging"]["in_sizes"]]


S = step("fpga_tagging", "train", "{arch}_N{n}")


rule fpga_tagging_train:
    input:
        jets=lambda w: f"resources/jets/{data_source('jets')}/jets.h5",
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


S = step("fpga_tagging", "hls", "{model}")


rule fpga_tagging_hls:
    input:
        qat="results/fpga_tagging/models/{model}/qat.pt",
        train="results/fpga_tagging/models/{model}/train.json",
    output:
        csim="results/fpga_tagging/hls/{model}/csim.json",
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


S = step("fpga_tagging", "synth")


rule fpga_tagging_synth:
    input:
        csim=lambda w: expand(rules.fpga_tagging_hls.output.csim, model=FPGA_TAGGING_MODELS),
        rtl=lambda w: expand(
            "results/fpga_tagging/models/{model}/qat.pt", model=config["studies"]["fpga_tagging"]["rtl_models"]
        ),
    output:
        report="results/fpga_tagging/synthesis_report.json",
    params:
        **S.params,
    threads: S.threads
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


S = step("fpga_tagging", "verify", "{model}")


rule fpga_tagging_verify:
    input:
        onnx="results/fpga_tagging/models/{model}/published/model.onnx",
        card="results/fpga_tagging/models/{model}/published/model_card.json",
    output:
        check="results/fpga_tagging/published_check/{model}.json",
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


S = step("fpga_tagging", "report")


rule fpga_tagging_report:
    input:
        train=lambda w: expand("results/fpga_tagging/models/{model}/train.json", model=FPGA_TAGGING_MODELS),
        csim=lambda w: expand(rules.fpga_tagging_hls.output.csim, model=FPGA_TAGGING_MODELS),
        synth=rules.fpga_tagging_synth.output.report,
        verify=lambda w: expand(rules.fpga_tagging_verify.output.check, model=FPGA_TAGGING_MODELS),
    output:
        metrics="results/fpga_tagging/metrics.json",
        png=S.figure("results/fpga_tagging/fpga_scaling.png"),
        pdf="results/fpga_tagging/fpga_scaling.pdf",
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
