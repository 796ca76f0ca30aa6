# (rules being converted to the study contract)


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
