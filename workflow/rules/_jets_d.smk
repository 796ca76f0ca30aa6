# Sophon-style signature pre-training (arXiv:2405.12972): a ParT-like tagger
# pre-trained on the fine jet-class toy with one resonance held out, then
# transferred to that resonance vs QCD (fine-tune / linear probe / scratch).
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


S = step("sophon", "transfer")


rule sophon_transfer:
    input:
        jets="resources/jetclass/toy/jets.h5",
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
# transformer trained on <= n_train_max jets with the plain likelihood,
# bootstrapping (starts from plain) and the perturbed-target loss ->
# multiplicity and first-unseen-jet kinematics vs truth.
from colliderflow.studies.jet_radiation import VARIANTS as JR_VARIANTS

S = step("jet_radiation", "train", "{variant}")


rule jet_radiation_train:
    input:
        events="resources/jet_radiation/toy/events.h5",
        init=lambda w: ["results/jet_radiation/models/plain.pt"] if w.variant == "bootstrap" else [],
    output:
        model="results/jet_radiation/models/{variant}.pt",
        hparams="results/jet_radiation/models/{variant}.json",
        samples="results/jet_radiation/samples/{variant}.h5",
        forced="results/jet_radiation/samples/{variant}_forced.h5",
        record="results/jet_radiation/models/{variant}_train.json",
    wildcard_constraints:
        variant="|".join(JR_VARIANTS),
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
        events="resources/jet_radiation/toy/events.h5",
        models=expand("results/jet_radiation/models/{v}.pt", v=JR_VARIANTS),
        records=expand("results/jet_radiation/models/{v}_train.json", v=JR_VARIANTS),
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
        events="resources/jet_radiation/toy/events.h5",
        samples=expand("results/jet_radiation/samples/{v}.h5", v=JR_VARIANTS),
        forced=expand("results/jet_radiation/samples/{v}_forced.h5", v=JR_VARIANTS),
        records=expand("results/jet_radiation/models/{v}_train.json", v=JR_VARIANTS),
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
