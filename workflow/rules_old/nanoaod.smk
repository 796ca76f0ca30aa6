# Multi-process toy NanoAOD with generator truth (ttbar, W+jets, QCD, BSM),
# one file per process; the classification studies read them.


rule nanoaod_toy:
    output:
        "resources/nanoaod/toy/{process}.root",
    params:
        script=script("nanoaod_toy"),
        n=config["data"]["nanoaod"]["toy"]["n_events"],
        seed=SEED,
    wildcard_constraints:
        process="[A-Za-z0-9_]+",
    log:
        "logs/data/nanoaod_toy_{process}.log",
    benchmark:
        "results/data/benchmarks/nanoaod_toy_{process}.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --process {wildcards.process} "
        "--n-events {params.n} --seed {params.seed} > {log} 2>&1"
