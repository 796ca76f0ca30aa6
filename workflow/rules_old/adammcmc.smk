# AdamMCMC (arXiv:2312.14027): Metropolis-adjusted Adam sampling of a pretrained
# jet tagger's weights on the fine-class jet toy; acceptance vs proposal width with
# and without the prolate stretch, predictive spread in/out of distribution vs a
# deep ensemble.
import json


ADAMMCMC = config["studies"]["adammcmc"]
ADAMMCMC_ENSEMBLE = expand("results/adammcmc/models/ensemble_{k}.pt", k=range(ADAMMCMC["n_samples"]))

STUDIES["adammcmc"] = [
    "results/adammcmc/metrics.json",
    "results/adammcmc/acceptance_vs_sigma.png",
    "results/adammcmc/predictive_spread.png",
    "results/adammcmc/published_check.json",
    "results/adammcmc/published/model_card.json",
]


rule adammcmc_train:
    input:
        jets=ADAMMCMC["jets"],
        ood_jets=ADAMMCMC["ood_jets"],
    output:
        tagger="results/adammcmc/models/tagger.pt",
        ensemble=ADAMMCMC_ENSEMBLE,
    params:
        script=script("adammcmc_train"),
        signal=" ".join(ADAMMCMC["signal"]),
        background=" ".join(ADAMMCMC["background"]),
        ood=" ".join(ADAMMCMC["ood"]),
        n_constituents=ADAMMCMC["n_constituents"],
        hidden=json.dumps(ADAMMCMC["hidden"]),
        epochs=ADAMMCMC["epochs"],
        batch_size=ADAMMCMC["batch_size"],
        train_lr=ADAMMCMC["train_lr"],
        test_fraction=ADAMMCMC["test_fraction"],
        n_samples=ADAMMCMC["n_samples"],
        seed=SEED,
    threads: 1
    log:
        "logs/adammcmc/train.log",
    benchmark:
        "results/adammcmc/benchmarks/train.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --jets {input.jets} --ood-jets {input.ood_jets} --outdir results/adammcmc/models "
        "--signal {params.signal} --background {params.background} --ood {params.ood} "
        "--n-constituents {params.n_constituents} --hidden '{params.hidden}' --epochs {params.epochs} "
        "--batch-size {params.batch_size} --train-lr {params.train_lr} --test-fraction {params.test_fraction} "
        "--n-samples {params.n_samples} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule adammcmc_sample:
    input:
        tagger="results/adammcmc/models/tagger.pt",
        ensemble=ADAMMCMC_ENSEMBLE,
    output:
        npz="results/adammcmc/samples.npz",
        info="results/adammcmc/sampling.json",
    params:
        script=script("adammcmc_sample"),
        lr=ADAMMCMC["lr"],
        sigma=ADAMMCMC["sigma"],
        stretch=ADAMMCMC["stretch"],
        temperature_per_jet=ADAMMCMC["temperature_per_jet"],
        prior_std=ADAMMCMC["prior_std"],
        scan_sigmas=" ".join(map(str, ADAMMCMC["scan_sigmas"])),
        scan_steps=ADAMMCMC["scan_steps"],
        burn_in=ADAMMCMC["burn_in"],
        thin=ADAMMCMC["thin"],
        n_samples=ADAMMCMC["n_samples"],
        reverse_move=ADAMMCMC["reverse"],
        seed=SEED,
    threads: 1
    log:
        "logs/adammcmc/sample.log",
    benchmark:
        "results/adammcmc/benchmarks/sample.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --tagger {input.tagger} --ensemble {input.ensemble} --out-npz {output.npz} "
        "--out-json {output.info} --lr {params.lr} --sigma {params.sigma} --stretch {params.stretch} "
        "--temperature-per-jet {params.temperature_per_jet} --prior-std {params.prior_std} "
        "--scan-sigmas {params.scan_sigmas} --scan-steps {params.scan_steps} --burn-in {params.burn_in} "
        "--thin {params.thin} --n-samples {params.n_samples} --reverse {params.reverse_move} --seed {params.seed} "
        "--threads {threads} > {log} 2>&1"


rule adammcmc_publish:
    input:
        tagger="results/adammcmc/models/tagger.pt",
        npz="results/adammcmc/samples.npz",
        info="results/adammcmc/sampling.json",
    output:
        check="results/adammcmc/published_check.json",
        onnx="results/adammcmc/published/model.onnx",
        card="results/adammcmc/published/model_card.json",
    params:
        script=script("adammcmc_publish"),
        n_val=200,
    threads: 1
    log:
        "logs/adammcmc/publish.log",
    benchmark:
        "results/adammcmc/benchmarks/publish.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --tagger {input.tagger} --samples {input.npz} --info {input.info} "
        "--outdir results/adammcmc/published --n-val {params.n_val} --out {output.check} --threads {threads} "
        "> {log} 2>&1"


rule adammcmc_report:
    input:
        npz="results/adammcmc/samples.npz",
        info="results/adammcmc/sampling.json",
        publish="results/adammcmc/published_check.json",
    output:
        metrics="results/adammcmc/metrics.json",
        acceptance=report(
            "results/adammcmc/acceptance_vs_sigma.png",
            caption="../report/adammcmc.rst",
            category="arXiv:2312.14027 AdamMCMC",
        ),
        acceptance_pdf="results/adammcmc/acceptance_vs_sigma.pdf",
        spread=report(
            "results/adammcmc/predictive_spread.png",
            caption="../report/adammcmc.rst",
            category="arXiv:2312.14027 AdamMCMC",
        ),
        spread_pdf="results/adammcmc/predictive_spread.pdf",
    params:
        script=script("adammcmc_report"),
        acceptance_margin=ADAMMCMC["acceptance_margin"],
        spread_n_sigma=ADAMMCMC["spread_n_sigma"],
        tier=TIER,
    log:
        "logs/adammcmc/report.log",
    benchmark:
        "results/adammcmc/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --samples {input.npz} --info {input.info} --outdir results/adammcmc "
        "--tier {params.tier} --acceptance-margin {params.acceptance_margin} "
        "--spread-n-sigma {params.spread_n_sigma} --publish {input.publish} > {log} 2>&1"
