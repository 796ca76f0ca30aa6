# Event classification with a shared set encoder on NanoAOD (issue 6):
# decay-aware multi-task net (arXiv:2212.08759), self-supervised pre-training
# (arXiv:2312.06909) and a unified latent space of models (arXiv:2407.20315).

STUDIES["decay_aware"] = ["results/decay_aware/metrics.json", "results/decay_aware/auc_vs_size.png"]
STUDIES["pretraining"] = ["results/pretraining/metrics.json", "results/pretraining/learning_curves.png"]
STUDIES["latent_space"] = ["results/latent_space/metrics.json", "results/latent_space/latent_map.png"]


rule decay_aware:
    input:
        toy=lambda w: nanoaod_toy_files([config["studies"]["decay_aware"]["signal"],
                                         config["studies"]["decay_aware"]["background"]]),
    output:
        metrics="results/decay_aware/metrics.json",
        png=report("results/decay_aware/auc_vs_size.png", caption="../report/decay_aware.rst",
                   category="arXiv:2212.08759 decay-aware network"),
        pdf="results/decay_aware/auc_vs_size.pdf",
        model="results/decay_aware/multitask_encoder.pt",
        model_json="results/decay_aware/multitask_encoder.json",
    params:
        script=script("eventclass_decay_aware"),
        inputs=eventclass_inputs,
        enc=eventclass_encoder("decay_aware"),
        c=config["studies"]["decay_aware"],
        sizes=" ".join(map(str, config["studies"]["decay_aware"]["sizes"])),
        seeds=" ".join(map(str, config["studies"]["decay_aware"]["seeds"])),
        seed=SEED,
        tier=TIER,
    threads: 1
    log:
        "logs/decay_aware/decay_aware.log",
    benchmark:
        "results/decay_aware/benchmarks/decay_aware.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --inputs {params.inputs} --outdir results/decay_aware "
        "--tier {params.tier} --seed {params.seed} --threads {threads} {params.enc} --signal {params.c[signal]} "
        "--background {params.c[background]} --sizes {params.sizes} --seeds {params.seeds} "
        "--aux-weight {params.c[aux_weight]} --target-steps {params.c[target_steps]} "
        "--max-epochs {params.c[max_epochs]} --bdt-trees {params.c[bdt_trees]} "
        "--auc-tolerance {params.c[auc_tolerance]} --aux-margin {params.c[aux_margin]} > {log} 2>&1"


rule pretrain_encoder:
    input:
        toy=pretrain_inputs,
    output:
        model="resources/eventclass/pretrained_encoder.pt",
        model_json="resources/eventclass/pretrained_encoder.json",
    params:
        script=script("eventclass_pretrain"),
        inputs=eventclass_inputs,
        enc=eventclass_encoder("pretraining"),
        u=config["studies"]["pretraining"]["unlabelled"],
        c={k: config["studies"]["pretraining"][k] for k in ("pretrain_epochs", "temperature", "smear", "drop")},
        seed=SEED,
    threads: 1
    log:
        "logs/pretraining/pretrain_encoder.log",
    cache: "omit-software"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --inputs {params.inputs} --outdir resources/eventclass "
        "--out {output.model} --seed {params.seed} --threads {threads} {params.enc} --source {params.u[source]} "
        "--n-events {params.u[n_events]} --epochs {params.c[pretrain_epochs]} "
        "--temperature {params.c[temperature]} --smear {params.c[smear]} --drop {params.c[drop]} > {log} 2>&1"


rule pretraining:
    input:
        toy=lambda w: nanoaod_toy_files([config["studies"]["pretraining"]["signal"],
                                         config["studies"]["pretraining"]["background"]]),
        encoder=rules.pretrain_encoder.output.model,
    output:
        metrics="results/pretraining/metrics.json",
        png=report("results/pretraining/learning_curves.png", caption="../report/pretraining.rst",
                   category="arXiv:2312.06909 pre-training"),
        pdf="results/pretraining/learning_curves.pdf",
    params:
        script=script("eventclass_finetune"),
        inputs=eventclass_inputs,
        enc=eventclass_encoder("pretraining"),
        c=config["studies"]["pretraining"],
        sizes=" ".join(map(str, config["studies"]["pretraining"]["sizes"])),
        seeds=" ".join(map(str, config["studies"]["pretraining"]["seeds"])),
        seed=SEED,
        tier=TIER,
    threads: 1
    log:
        "logs/pretraining/finetune.log",
    benchmark:
        "results/pretraining/benchmarks/finetune.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --inputs {params.inputs} --encoder {input.encoder} "
        "--outdir results/pretraining --tier {params.tier} --seed {params.seed} --threads {threads} {params.enc} "
        "--signal {params.c[signal]} --background {params.c[background]} --sizes {params.sizes} "
        "--seeds {params.seeds} --target-steps {params.c[target_steps]} --max-epochs {params.c[max_epochs]} "
        "--min-gain {params.c[min_gain]} > {log} 2>&1"


rule latent_space:
    input:
        toy=lambda w: nanoaod_toy_files(config["studies"]["latent_space"]["models"]),
    output:
        metrics="results/latent_space/metrics.json",
        png=report("results/latent_space/latent_map.png", caption="../report/latent_space.rst",
                   category="arXiv:2407.20315 unified latent space"),
        pdf="results/latent_space/latent_map.pdf",
        model="results/latent_space/latent_encoder.pt",
        model_json="results/latent_space/latent_encoder.json",
    params:
        script=script("eventclass_latent"),
        inputs=eventclass_inputs,
        enc=eventclass_encoder("latent_space"),
        c=config["studies"]["latent_space"],
        seed=SEED,
        tier=TIER,
    threads: 1
    log:
        "logs/latent_space/latent_space.log",
    benchmark:
        "results/latent_space/benchmarks/latent_space.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --inputs {params.inputs} --outdir results/latent_space "
        "--tier {params.tier} --seed {params.seed} --threads {threads} {params.enc} --n-train {params.c[n_train]} "
        "--n-eval {params.c[n_eval]} --set-size {params.c[set_size]} --latent-dim {params.c[latent_dim]} "
        "--epochs {params.c[epochs]} --temperature {params.c[temperature]} --purity-min {params.c[purity_min]} "
        "--overlap-tol {params.c[overlap_tol]} --separation-min {params.c[separation_min]} "
        "--rho-min {params.c[rho_min]} > {log} 2>&1"
