# Unfolding (SPINUP paper): IBU, OmniFold and SPINUP on a jet-substructure toy
# (or CMS NanoAOD GenJet/Jet pairs), each with two simulation priors.

UNF = config["studies"]["unfolding"]
UNF_METHODS = ["ibu", "omnifold", "spinup"]
UNF_PRIORS = ["sim_a", "sim_b"]

STUDIES["unfolding"] = [
    "results/unfolding/metrics.json",
    "results/unfolding/unfolded_sim_a.png",
    "results/unfolding/unfolded_sim_b.png",
    "results/unfolding/chi2_vs_iteration.png",
]


rule unfolding_toy:
    output:
        "resources/unfolding/toy/pairs.h5",
    params:
        script=script("unfolding_toy"),
        n_sim=config["data"]["unfolding"]["toy"]["n_sim"],
        n_data=config["data"]["unfolding"]["toy"]["n_data"],
        seed=SEED,
    log:
        "logs/unfolding/toy.log",
    benchmark:
        "results/unfolding/benchmarks/toy.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --seed {params.seed} "
        "--n-sim {params.n_sim} --n-data {params.n_data} > {log} 2>&1"


rule unfolding_nanoaod:
    input:
        data_files("unfolding"),
    output:
        "resources/unfolding/nanoaod/pairs.h5",
    params:
        script=script("unfolding_nanoaod"),
        min_pt=config["data"]["unfolding"]["min_pt"],
        prior_slope=config["data"]["unfolding"]["prior_slope"],
    log:
        "logs/unfolding/nanoaod.log",
    benchmark:
        "results/unfolding/benchmarks/nanoaod.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --min-pt {params.min_pt} "
        "--prior-slope {params.prior_slope} {input} > {log} 2>&1"


rule unfolding_unfold:
    input:
        lambda w: (rules.unfolding_toy if config["data"]["unfolding"]["source"] == "toy" else rules.unfolding_nanoaod).output[0],
    output:
        "results/unfolding/unfolded/{method}_{prior}.npz",
    wildcard_constraints:
        method="|".join(UNF_METHODS),
        prior="|".join(UNF_PRIORS),
    params:
        script=script("unfolding_unfold"),
        seed=SEED,
        bins=UNF["bins"],
        max_events=UNF["max_events"],
        ibu=UNF["ibu"]["iterations"],
        of=UNF["omnifold"]["iterations"],
        net=UNF["classifier"],
        flow=UNF["spinup"],
    threads: 1
    log:
        "logs/unfolding/unfold_{method}_{prior}.log",
    benchmark:
        "results/unfolding/benchmarks/unfold_{method}_{prior}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} {input} --method {wildcards.method} --prior {wildcards.prior} "
        "--out {output} --seed {params.seed} --threads {threads} --bins {params.bins} "
        "--max-events {params.max_events} --ibu-iterations {params.ibu} --omnifold-iterations {params.of} "
        "--net-hidden {params.net[hidden]} --net-layers {params.net[layers]} --net-epochs {params.net[epochs]} "
        "--net-batch-size {params.net[batch_size]} --flow-kind {params.flow[kind]} "
        "--flow-transforms {params.flow[transforms]} --flow-hidden {params.flow[hidden]} "
        "--flow-epochs {params.flow[epochs]} --flow-batch-size {params.flow[batch_size]} "
        "--proposals {params.flow[proposals]} --ensemble {params.flow[ensemble]} "
        "--samples {params.flow[samples]} > {log} 2>&1"


rule unfolding_report:
    input:
        table=lambda w: (rules.unfolding_toy if config["data"]["unfolding"]["source"] == "toy" else rules.unfolding_nanoaod).output[0],
        results=expand("results/unfolding/unfolded/{method}_{prior}.npz", method=UNF_METHODS, prior=UNF_PRIORS),
    output:
        metrics="results/unfolding/metrics.json",
        a=report(
            "results/unfolding/unfolded_sim_a.png",
            caption="../report/unfolding.rst",
            category="SPINUP unfolding",
        ),
        b=report(
            "results/unfolding/unfolded_sim_b.png",
            caption="../report/unfolding.rst",
            category="SPINUP unfolding",
        ),
        it=report(
            "results/unfolding/chi2_vs_iteration.png",
            caption="../report/unfolding.rst",
            category="SPINUP unfolding",
        ),
        pdfs=expand("results/unfolding/{f}.pdf", f=["unfolded_sim_a", "unfolded_sim_b", "chi2_vs_iteration"]),
    params:
        script=script("unfolding_report"),
        tier=TIER,
        bins=UNF["bins"],
    log:
        "logs/unfolding/report.log",
    benchmark:
        "results/unfolding/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} {input.results} --table {input.table} --bins {params.bins} "
        "--outdir results/unfolding --tier {params.tier} > {log} 2>&1"
