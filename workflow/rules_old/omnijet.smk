# OmniJet-alpha (arXiv:2403.05618): VQ-VAE constituent tokens -> GPT-style jet
# generation -> transfer of the generative backbone to tagging. Data: the
# fine-grained jet-class toy (rule jetclass_toy) or a real excerpt
# (rule jetclass_excerpt), classes from the config.

OMNIJET = config["studies"]["omnijet"]


STUDIES["omnijet"] = [
    "results/omnijet/metrics.json",
    "results/omnijet/generation.png",
    "results/omnijet/transfer.png",
    "results/omnijet/published_check.json",
    "results/omnijet/published/tokenizer/model_card.json",
    "results/omnijet/published/decoder/model_card.json",
    "results/omnijet/published/backbone/model_card.json",
]

# the jets file the tokenizer trains on (rule jetclass_toy or jetclass_excerpt)
OMNIJET_JETS = ("resources/jetclass/toy/jets.h5" if OMNIJET["source"] == "toy"
                else f"resources/jetclass/excerpt/{OMNIJET['source']}/jets.h5")


rule omnijet_tokenizer:
    input:
        OMNIJET_JETS,
    output:
        model="results/omnijet/tokenizer/vqvae.pt",
        hparams="results/omnijet/tokenizer/vqvae.json",
        tokens="results/omnijet/tokenizer/tokens.npz",
        stats="results/omnijet/tokenizer/tokenizer.json",
    params:
        script=script("omnijet_tokenizer"),
        classes=" ".join(OMNIJET["classes"]),
        n=OMNIJET["n_constituents"],
        test_fraction=OMNIJET["test_fraction"],
        t=OMNIJET["tokenizer"],
        seed=SEED,
    threads: 1
    log:
        "logs/omnijet/tokenizer.log",
    benchmark:
        "results/omnijet/benchmarks/tokenizer.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input} --outdir results/omnijet/tokenizer --classes {params.classes} "
        "--n-constituents {params.n} --test-fraction {params.test_fraction} "
        "--codebook-size {params.t[codebook_size]} --latent-dim {params.t[latent_dim]} --hidden {params.t[hidden]} "
        "--beta {params.t[beta]} --decay {params.t[decay]} --epochs {params.t[epochs]} "
        "--batch-size {params.t[batch_size]} --lr {params.t[lr]} --seed {params.seed} --threads {threads} > {log} 2>&1"


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
        script=script("omnijet_backbone"),
        b=OMNIJET["backbone"],
        n_generate=OMNIJET["n_generate"],
        temperature=OMNIJET["temperature"],
        seed=SEED,
    threads: 1
    log:
        "logs/omnijet/backbone.log",
    benchmark:
        "results/omnijet/benchmarks/backbone.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --tokenizer {input.model} --tokens {input.tokens} --outdir results/omnijet/backbone "
        "--dim {params.b[dim]} --heads {params.b[heads]} --layers {params.b[layers]} --emb-dim {params.b[emb_dim]} "
        "--epochs {params.b[epochs]} --batch-size {params.b[batch_size]} --lr {params.b[lr]} "
        "--patience {params.b[patience]} --n-generate {params.n_generate} --temperature {params.temperature} "
        "--seed {params.seed} --threads {threads} > {log} 2>&1"


rule omnijet_transfer:
    input:
        model=rules.omnijet_backbone.output.model,
        tokens=rules.omnijet_tokenizer.output.tokens,
    output:
        "results/omnijet/transfer/transfer.json",
    params:
        script=script("omnijet_transfer"),
        classes=" ".join(OMNIJET["classes"]),
        tag_classes=" ".join(OMNIJET["transfer"]["tag_classes"]),
        sizes=" ".join(map(str, OMNIJET["transfer"]["sizes"])),
        seeds=" ".join(map(str, OMNIJET["transfer"]["seeds"])),
        t=OMNIJET["transfer"],
        seed=SEED,
    threads: 1
    log:
        "logs/omnijet/transfer.log",
    benchmark:
        "results/omnijet/benchmarks/transfer.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --gpt {input.model} --tokens {input.tokens} --out {output} "
        "--classes {params.classes} --tag-classes {params.tag_classes} --sizes {params.sizes} --seeds {params.seeds} "
        "--batch-size {params.t[batch_size]} --lr {params.t[lr]} --finetune-lr {params.t[finetune_lr]} "
        "--target-steps {params.t[target_steps]} --max-epochs {params.t[max_epochs]} --patience {params.t[patience]} "
        "--n-test {params.t[n_test]} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule omnijet_publish:
    input:
        tokenizer=rules.omnijet_tokenizer.output.model,
        tokens=rules.omnijet_tokenizer.output.tokens,
        tokenizer_json=rules.omnijet_tokenizer.output.stats,
        gpt=rules.omnijet_backbone.output.model,
        generation=rules.omnijet_backbone.output.stats,
    output:
        check="results/omnijet/published_check.json",
        tokenizer="results/omnijet/published/tokenizer/model.onnx",
        tokenizer_card="results/omnijet/published/tokenizer/model_card.json",
        decoder="results/omnijet/published/decoder/model.onnx",
        decoder_card="results/omnijet/published/decoder/model_card.json",
        backbone="results/omnijet/published/backbone/model.onnx",
        backbone_card="results/omnijet/published/backbone/model_card.json",
    params:
        script=script("omnijet_publish"),
        jets_file=OMNIJET_JETS,
        source=OMNIJET["source"],
        n_val=200,
        seed=SEED,
    threads: 1
    log:
        "logs/omnijet/publish.log",
    benchmark:
        "results/omnijet/benchmarks/publish.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --tokenizer {input.tokenizer} --tokens {input.tokens} "
        "--tokenizer-json {input.tokenizer_json} --gpt {input.gpt} --generation-json {input.generation} "
        "--jets-file {params.jets_file} --source {params.source} --outdir results/omnijet/published "
        "--out {output.check} --n-val {params.n_val} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule omnijet_report:
    input:
        tokenizer=rules.omnijet_tokenizer.output.stats,
        generation=rules.omnijet_backbone.output.stats,
        samples=rules.omnijet_backbone.output.samples,
        transfer=rules.omnijet_transfer.output,
        publish=rules.omnijet_publish.output.check,
    output:
        metrics="results/omnijet/metrics.json",
        png=report("results/omnijet/generation.png", caption="../report/omnijet.rst",
                   category="arXiv:2403.05618 OmniJet-alpha"),
        pdf="results/omnijet/generation.pdf",
        tpng=report("results/omnijet/transfer.png", caption="../report/omnijet.rst",
                    category="arXiv:2403.05618 OmniJet-alpha"),
        tpdf="results/omnijet/transfer.pdf",
    params:
        script=script("omnijet_report"),
        tier=TIER,
    log:
        "logs/omnijet/report.log",
    benchmark:
        "results/omnijet/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --tokenizer-json {input.tokenizer} --generation-json {input.generation} "
        "--samples {input.samples} --transfer-json {input.transfer} --publish-json {input.publish} "
        "--outdir results/omnijet "
        "--tier {params.tier} > {log} 2>&1"
