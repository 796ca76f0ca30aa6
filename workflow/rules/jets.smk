# Jets and events: event classification with a shared set encoder on NanoAOD
# (decay_aware, pretraining, latent_space), jet tagging on FPGAs
# (fpga_tagging), and the jet foundation-model studies on the fine-grained
# jet classes (sophon, omnijet, jet_radiation, lgatr, bithep, adammcmc).


# Event classification (arXiv:2212.08759, arXiv:2312.06909, arXiv:2407.20315) and
# jet tagging on FPGAs (arXiv:2402.01876, published models arXiv:2312.14575).
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
        null_model="resources/eventclass/pretrained_encoder_null.pt",
        null_model_json="resources/eventclass/pretrained_encoder_null.json",
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
        null_encoder=rules.pretraining_encoder.output.null_model,
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
        qat_onnx="results/fpga_tagging/models/{arch}_N{n}/published_qat/model.onnx",
        qat_card="results/fpga_tagging/models/{arch}_N{n}/published_qat/model_card.json",
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


S = step("fpga_tagging", "rtl", "{model}")


rule fpga_tagging_rtl:
    input:
        qat="results/fpga_tagging/models/{model}/qat.pt",
        train="results/fpga_tagging/models/{model}/train.json",
    output:
        rtl="results/fpga_tagging/rtl/{model}/rtl.json",
    wildcard_constraints:
        model=r"mlp_N\d+",
    params:
        **S.params,
    # the study's longest job (Yosys): start it as soon as its model is trained, not after the other trainings
    priority: 10
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


S = step("fpga_tagging", "synth")


rule fpga_tagging_synth:
    input:
        csim=lambda w: expand(rules.fpga_tagging_hls.output.csim, model=FPGA_TAGGING_MODELS),
        rtl=lambda w: expand(rules.fpga_tagging_rtl.output.rtl, model=config["studies"]["fpga_tagging"]["rtl_models"]),
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
        qat_onnx="results/fpga_tagging/models/{model}/published_qat/model.onnx",
        qat_card="results/fpga_tagging/models/{model}/published_qat/model_card.json",
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


# Sophon-style signature pre-training (arXiv:2405.12972): a ParT-like tagger
# pre-trained on the fine jet-class toy with one resonance held out, then
# transferred to that resonance vs QCD (fine-tune / linear probe / scratch).
# The transfer target: the held-out toy class, or a real excerpt (studies.sophon.target).
from colliderflow.studies.sophon import target_path as sophon_target_path

S = step("sophon", "pretrain")


rule sophon_pretrain:
    input:
        jets="resources/jetclass/toy/jets.h5",
    output:
        model="resources/sophon/pretrained.pt",
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


S = step("sophon", "target")


rule sophon_target:
    output:
        jets="resources/sophon/target_toy.h5",
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


S = step("sophon", "transfer")


rule sophon_transfer:
    input:
        jets=lambda w: sophon_target_path(config["studies"]["sophon"]["target"]),
        pretrained=rules.sophon_pretrain.output.model,
    output:
        transfer="results/sophon/transfer.json",
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


S = step("sophon", "publish")


rule sophon_publish:
    input:
        jets="resources/jetclass/toy/jets.h5",
        pretrained=rules.sophon_pretrain.output.model,
    output:
        check="results/sophon/published_check.json",
        onnx="results/sophon/published/model.onnx",
        card="results/sophon/published/model_card.json",
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


S = step("sophon", "report")


rule sophon_report:
    input:
        transfer=rules.sophon_transfer.output.transfer,
        publish=rules.sophon_publish.output.check,
    output:
        metrics="results/sophon/metrics.json",
        png=S.figure("results/sophon/rejection_vs_labelled.png"),
        pdf="results/sophon/rejection_vs_labelled.pdf",
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


# OmniJet-alpha (arXiv:2403.05618): VQ-VAE constituent tokens -> GPT-style jet
# generation -> transfer of the generative backbone to tagging. Data: the
# fine-grained jet-class toy (rule jetclass_toy) or a real excerpt
# (rule jetclass_excerpt), as studies.omnijet.source says.
from colliderflow.studies.omnijet import jets_path as omnijet_jets_path

S = step("omnijet", "tokenizer")


rule omnijet_tokenizer:
    input:
        jets=lambda w: omnijet_jets_path(config["studies"]["omnijet"]["source"]),
    output:
        model="results/omnijet/tokenizer/vqvae.pt",
        hparams="results/omnijet/tokenizer/vqvae.json",
        tokens="results/omnijet/tokenizer/tokens.npz",
        stats="results/omnijet/tokenizer/tokenizer.json",
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


S = step("omnijet", "backbone")


rule omnijet_backbone:
    input:
        model=rules.omnijet_tokenizer.output.model,
        tokens=rules.omnijet_tokenizer.output.tokens,
    output:
        model="results/omnijet/backbone/gpt.pt",
        hparams="results/omnijet/backbone/gpt.json",
        samples="results/omnijet/backbone/samples.npz",
        stats="results/omnijet/backbone/generation.json",
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


S = step("omnijet", "transfer")


rule omnijet_transfer:
    input:
        model=rules.omnijet_backbone.output.model,
        tokens=rules.omnijet_tokenizer.output.tokens,
    output:
        transfer="results/omnijet/transfer/transfer.json",
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


S = step("omnijet", "publish")


rule omnijet_publish:
    input:
        tokenizer=rules.omnijet_tokenizer.output.model,
        tokens=rules.omnijet_tokenizer.output.tokens,
        tokenizer_json=rules.omnijet_tokenizer.output.stats,
        gpt=rules.omnijet_backbone.output.model,
        generation=rules.omnijet_backbone.output.stats,
        jets=lambda w: omnijet_jets_path(config["studies"]["omnijet"]["source"]),
    output:
        check="results/omnijet/published_check.json",
        tokenizer="results/omnijet/published/tokenizer/model.onnx",
        tokenizer_card="results/omnijet/published/tokenizer/model_card.json",
        decoder="results/omnijet/published/decoder/model.onnx",
        decoder_card="results/omnijet/published/decoder/model_card.json",
        backbone="results/omnijet/published/backbone/model.onnx",
        backbone_card="results/omnijet/published/backbone/model_card.json",
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


S = step("omnijet", "report")


rule omnijet_report:
    input:
        tokenizer=rules.omnijet_tokenizer.output.stats,
        generation=rules.omnijet_backbone.output.stats,
        samples=rules.omnijet_backbone.output.samples,
        transfer=rules.omnijet_transfer.output.transfer,
        publish=rules.omnijet_publish.output.check,
    output:
        metrics="results/omnijet/metrics.json",
        png=S.figure("results/omnijet/generation.png"),
        pdf="results/omnijet/generation.pdf",
        tpng=S.figure("results/omnijet/transfer.png"),
        tpdf="results/omnijet/transfer.pdf",
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


# Extrapolating jet radiation with autoregressive transformers (arXiv:2412.12074).
# Staircase Z + jets toy (rule jet_radiation_toy, top of this file) -> causal
# transformer trained on <= n_train_max jets with the plain likelihood, the
# modified loss and bootstrapping (starts from modified), `seeds` seeds each ->
# multiplicity and first-unseen-jet kinematics vs truth.
from colliderflow.studies.jet_radiation import VARIANTS as JR_VARIANTS

JR_REPS = range(config["studies"]["jet_radiation"]["seeds"])
# truth: the staircase toy or the partons of an LHE file (source: lhe)
JR_EVENTS = f"resources/jet_radiation/{config['studies']['jet_radiation'].get('source', 'toy')}/events.h5"
S = step("jet_radiation", "train", "{variant}_s{rep}")


rule jet_radiation_train:
    input:
        events=JR_EVENTS,
        init=lambda w: (
            [f"results/jet_radiation/models/modified_s{w.rep}.pt"] if w.variant == "bootstrap" else []
        ),
    output:
        model="results/jet_radiation/models/{variant}_s{rep}.pt",
        hparams="results/jet_radiation/models/{variant}_s{rep}.json",
        samples="results/jet_radiation/samples/{variant}_s{rep}.h5",
        forced="results/jet_radiation/samples/{variant}_s{rep}_forced.h5",
        record="results/jet_radiation/models/{variant}_s{rep}_train.json",
    wildcard_constraints:
        variant="|".join(JR_VARIANTS),
        rep=r"\d+",
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


S = step("jet_radiation", "publish")


rule jet_radiation_publish:
    input:
        events=JR_EVENTS,
        models=expand("results/jet_radiation/models/{v}_s0.pt", v=JR_VARIANTS),
        records=expand("results/jet_radiation/models/{v}_s0_train.json", v=JR_VARIANTS),
    output:
        check="results/jet_radiation/published_check.json",
        onnx=expand("results/jet_radiation/published/{v}/model.onnx", v=JR_VARIANTS),
        card=expand("results/jet_radiation/published/{v}/model_card.json", v=JR_VARIANTS),
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


S = step("jet_radiation", "report")


rule jet_radiation_report:
    input:
        events=JR_EVENTS,
        samples=expand("results/jet_radiation/samples/{v}_s{r}.h5", v=JR_VARIANTS, r=JR_REPS),
        forced=expand("results/jet_radiation/samples/{v}_s{r}_forced.h5", v=JR_VARIANTS, r=JR_REPS),
        records=expand("results/jet_radiation/models/{v}_s{r}_train.json", v=JR_VARIANTS, r=JR_REPS),
        publish=rules.jet_radiation_publish.output.check,
    output:
        metrics="results/jet_radiation/metrics.json",
        mult=S.figure("results/jet_radiation/jet_radiation_multiplicity.png"),
        mult_pdf="results/jet_radiation/jet_radiation_multiplicity.pdf",
        kin=S.figure("results/jet_radiation/jet_radiation_third_jet.png"),
        kin_pdf="results/jet_radiation/jet_radiation_third_jet.pdf",
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


# L-GATr (arXiv:2411.00446): a Lorentz-equivariant transformer (lgatr package) vs a plain
# transformer for top tagging on constituent four-momenta, across training-set sizes and
# seeds, plus a boost/rotation invariance scan.
# jets: the toy fine-class file, or the named ParT-format excerpt (real tier); training
# seeds: the global seed and the next studies.lgatr.seeds - 1.
LGATR_JETS = (
    "resources/jetclass/toy/jets.h5"
    if config["studies"]["lgatr"]["dataset"] == "toy"
    else f"resources/jetclass/excerpt/{config['studies']['lgatr']['dataset']}/jets.h5"
)
LGATR_SEEDS = [config["seed"] + k for k in range(config["studies"]["lgatr"]["seeds"])]


S = step("lgatr", "train", "seed{seed}")


rule lgatr_train:
    input:
        jets=LGATR_JETS,
    output:
        result="results/lgatr/seed{seed}/result.json",
        lgatr="results/lgatr/seed{seed}/lgatr.pt",
        lgatr_sb="results/lgatr/seed{seed}/lgatr_sb.pt",
        baseline="results/lgatr/seed{seed}/baseline.pt",
    wildcard_constraints:
        seed=r"\d+",
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


S = step("lgatr", "publish")


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


S = step("lgatr", "report")


rule lgatr_report:
    input:
        jets=LGATR_JETS,
        publish="results/lgatr/published_check.json",
        results=expand("results/lgatr/seed{seed}/result.json", seed=LGATR_SEEDS),
        models=expand(
            "results/lgatr/seed{seed}/{kind}.pt", seed=LGATR_SEEDS[:1], kind=("lgatr", "lgatr_sb", "baseline")
        ),
    output:
        metrics="results/lgatr/metrics.json",
        performance=S.figure("results/lgatr/lgatr_performance.png"),
        performance_pdf="results/lgatr/lgatr_performance.pdf",
        invariance=S.figure("results/lgatr/lgatr_invariance.png"),
        invariance_pdf="results/lgatr/lgatr_invariance.pdf",
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


# BitHEP (Krause, Wang, Winterhalder): binary / ternary BitLinear vs full precision on q/g
# tagging, jet-mass regression and a small flow. One training job per task (three
# precisions each), the ONNX export of two q/g taggers, then the figure and metrics.
# jets: the fine-class toy, or a real excerpt (data.jetclass.excerpts) by name
BITHEP_JETS = (
    f"resources/jetclass/excerpt/{config['studies']['bithep']['excerpt']}/jets.h5"
    if config["studies"]["bithep"]["excerpt"]
    else "resources/jetclass/toy/jets.h5"
)


S = step("bithep", "task", "{task}")


rule bithep_task:
    input:
        jets=BITHEP_JETS,
    output:
        json="results/bithep/tasks/{task}.json",
        npz="results/bithep/tasks/{task}.npz",
        # the trained networks (nn.train.save_model: state_dict + hyper-parameters)
        models=expand("results/bithep/models/{{task}}_{precision}.pt", precision=["full", "binary", "ternary"]),
        hparams=expand("results/bithep/models/{{task}}_{precision}.json", precision=["full", "binary", "ternary"]),
    wildcard_constraints:
        task="tagging|regression|generation",
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


S = step("bithep", "publish")


rule bithep_publish:
    input:
        jets=BITHEP_JETS,
        tagging="results/bithep/tasks/tagging.json",
        npz="results/bithep/tasks/tagging.npz",
        # the published precisions: colliderflow.studies.bithep.PUBLISHED
        models=expand("results/bithep/models/tagging_{precision}.pt", precision=["full", "ternary"]),
    output:
        check="results/bithep/published_check.json",
        onnx=expand("results/bithep/published/{precision}/model.onnx", precision=["full", "ternary"]),
        card=expand("results/bithep/published/{precision}/model_card.json", precision=["full", "ternary"]),
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


S = step("bithep", "report")


rule bithep_report:
    input:
        tasks=expand("results/bithep/tasks/{task}.json", task=["tagging", "regression", "generation"]),
        arrays=expand("results/bithep/tasks/{task}.npz", task=["tagging", "regression", "generation"]),
        publish="results/bithep/published_check.json",
    output:
        metrics="results/bithep/metrics.json",
        png=S.figure("results/bithep/bithep.png"),
        pdf="results/bithep/bithep.pdf",
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


# AdamMCMC (arXiv:2312.14027): Metropolis-adjusted Adam sampling of a pretrained jet
# tagger's weights on the fine-class jet toy; acceptance vs proposal width with and
# without the prolate stretch, predictive spread in/out of distribution vs a deep ensemble.
S = step("adammcmc", "train")


rule adammcmc_train:
    input:
        # prepared jet files (data.smk) named in studies.adammcmc
        jets=lambda w: config["studies"]["adammcmc"]["jets"],
        ood_jets=lambda w: config["studies"]["adammcmc"]["ood_jets"],
    output:
        tagger="results/adammcmc/models/tagger.pt",
        ensemble=expand(
            "results/adammcmc/models/ensemble_{k}.pt", k=range(config["studies"]["adammcmc"]["n_samples"])
        ),
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


S = step("adammcmc", "sample")


rule adammcmc_sample:
    input:
        tagger=rules.adammcmc_train.output.tagger,
        ensemble=rules.adammcmc_train.output.ensemble,
    output:
        npz="results/adammcmc/samples.npz",
        info="results/adammcmc/sampling.json",
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


S = step("adammcmc", "publish")


rule adammcmc_publish:
    input:
        tagger=rules.adammcmc_train.output.tagger,
        npz=rules.adammcmc_sample.output.npz,
        info=rules.adammcmc_sample.output.info,
    output:
        check="results/adammcmc/published_check.json",
        onnx="results/adammcmc/published/model.onnx",
        card="results/adammcmc/published/model_card.json",
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


S = step("adammcmc", "report")


rule adammcmc_report:
    input:
        npz=rules.adammcmc_sample.output.npz,
        info=rules.adammcmc_sample.output.info,
        publish=rules.adammcmc_publish.output.check,
    output:
        metrics="results/adammcmc/metrics.json",
        acceptance=S.figure("results/adammcmc/acceptance_vs_sigma.png"),
        acceptance_pdf="results/adammcmc/acceptance_vs_sigma.pdf",
        spread=S.figure("results/adammcmc/predictive_spread.png"),
        spread_pdf="results/adammcmc/predictive_spread.pdf",
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
