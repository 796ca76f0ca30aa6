# Tails search with ABCD (arXiv:2404.07258): conditional-flow decorrelation,
# weak supervision (data vs control), ABCD in (score, MET), pyhf significance.

TAILS = config["studies"]["tails_abcd"]

STUDIES["tails_abcd"] = [
    "results/tails_abcd/metrics.json",
    "results/tails_abcd/score_vs_met.png",
    "results/tails_abcd/abcd_closure.png",
    "results/tails_abcd/significance.png",
]


rule tails_abcd_toy:
    output:
        "resources/tails_abcd/toy/tails.h5",
    params:
        script=script("tails_abcd_toy"),
        toy=TAILS["toy"],
        seed=SEED,
    log:
        "logs/tails_abcd/toy.log",
    benchmark:
        "results/tails_abcd/benchmarks/toy.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} --out {output} --seed {params.seed} "
        "--n-background {params.toy[n_background]} --n-control {params.toy[n_control]} "
        "--n-signal {params.toy[n_signal]} --met-min {params.toy[met_min]} "
        "--met-scale-background {params.toy[met_scale_background]} "
        "--met-scale-control {params.toy[met_scale_control]} "
        "--met-mean-signal {params.toy[met_mean_signal]} --signal-mass {params.toy[signal_mass]} > {log} 2>&1"


rule tails_abcd_flow:
    input:
        rules.tails_abcd_toy.output,
    output:
        model="results/tails_abcd/flow.pt",
        hparams="results/tails_abcd/flow.json",
        latent="results/tails_abcd/latent.h5",
    params:
        script=script("tails_abcd_flow"),
        f=TAILS["flow"],
        hidden=" ".join(str(h) for h in TAILS["flow"]["hidden"]),
        seed=SEED,
    log:
        "logs/tails_abcd/flow.log",
    benchmark:
        "results/tails_abcd/benchmarks/flow.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} {input} --model {output.model} --latent {output.latent} "
        "--seed {params.seed} --threads {threads} --train-fraction {params.f[train_fraction]} "
        "--transforms {params.f[transforms]} --hidden {params.hidden} --bins {params.f[bins]} "
        "--epochs {params.f[epochs]} --batch-size {params.f[batch_size]} --lr {params.f[lr]} "
        "--patience {params.f[patience]} > {log} 2>&1"


rule tails_abcd_analysis:
    input:
        toy=rules.tails_abcd_toy.output,
        latent=rules.tails_abcd_flow.output.latent,
    output:
        metrics="results/tails_abcd/metrics.json",
        results="results/tails_abcd/results.json",
        corr=report(
            "results/tails_abcd/score_vs_met.png",
            caption="../report/tails_abcd.rst",
            category="arXiv:2404.07258 tails ABCD",
        ),
        closure=report(
            "results/tails_abcd/abcd_closure.png",
            caption="../report/tails_abcd.rst",
            category="arXiv:2404.07258 tails ABCD",
        ),
        significance=report(
            "results/tails_abcd/significance.png",
            caption="../report/tails_abcd.rst",
            category="arXiv:2404.07258 tails ABCD",
        ),
        pdfs=expand("results/tails_abcd/{f}.pdf", f=["score_vs_met", "abcd_closure", "significance"]),
    params:
        script=script("tails_abcd_analysis"),
        a=TAILS["abcd"],
        c=TAILS["classifier"],
        scan=" ".join(str(x) for x in TAILS["abcd"]["met_cut_scan"]),
        injections=" ".join(str(x) for x in TAILS["abcd"]["injections"]),
        seed=SEED,
        tier=TIER,
    log:
        "logs/tails_abcd/analysis.log",
    benchmark:
        "results/tails_abcd/benchmarks/analysis.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    shell:
        "python {params.script} {input.toy} {input.latent} --outdir results/tails_abcd "
        "--tier {params.tier} --seed {params.seed} --threads {threads} --met-cut {params.a[met_cut]} "
        "--met-cut-scan {params.scan} --score-efficiency {params.a[score_efficiency]} "
        "--injections {params.injections} --reference-injection {params.a[reference_injection]} "
        "--folds {params.c[folds]} --n-estimators {params.c[n_estimators]} --max-depth {params.c[max_depth]} "
        "--learning-rate {params.c[learning_rate]} --dcor-events {params.a[dcor_events]} "
        "--independence-events {params.a[independence_events]} > {log} 2>&1"
