# Datasets: toy generators (default), local real files, or downloads.
# Every source ends in one prepared file that the studies read.
# Generators and downloads are cached between workflows (SNAKEMAKE_OUTPUT_CACHE=dir
# snakemake --cache): everything that changes their output is a param, the code
# included (source_hash). Cached rules cannot have benchmark:; their scripts log
# wall/CPU time and peak memory at the end of the log instead.


rule lhco_toy:
    output:
        "resources/lhco/toy/events_anomalydetection_v2.features.h5",
    params:
        script=script("lhco_toy"),
        code=source_hash("lhco_toy", "data/lhco.py", "io.py"),
        toy=config["data"]["lhco"]["toy"],
        seed=SEED,
    log:
        "logs/data/lhco_toy.log",
    cache: "omit-software"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --seed {params.seed} "
        "--n-background {params.toy[n_background]} --n-signal {params.toy[n_signal]} "
        "--m-wprime {params.toy[m_wprime]} --m-x {params.toy[m_x]} --m-y {params.toy[m_y]} > {log} 2>&1"


rule lhco_download:
    output:
        "resources/lhco/download/events_anomalydetection_v2.features.h5",
    params:
        script=script("download"),
        url=config["data"]["lhco"]["download"]["url"],
        sha256=config["data"]["lhco"]["download"]["sha256"],
    log:
        "logs/data/lhco_download.log",
    cache: "omit-software"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --url {params.url} --sha256 '{params.sha256}' --out {output} > {log} 2>&1"


rule lhco_prepare:
    input:
        dataset_input("lhco", rules.lhco_toy, rules.lhco_download),
    output:
        "resources/lhco/events.h5",
    params:
        script=script("lhco_prepare"),
        fmt=lambda w: "features" if config["data"]["lhco"]["source"] != "file" else config["data"]["lhco"]["format"],
    log:
        "logs/data/lhco_prepare.log",
    benchmark:
        "results/data/benchmarks/lhco_prepare.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --format {params.fmt} --out {output} {input} > {log} 2>&1"


rule dimuon_toy:
    output:
        "resources/dimuon/toy/dimuon_nanoaod.root",
    params:
        script=script("dimuon_toy"),
        code=source_hash("dimuon_toy", "data", "io.py"),
        n=config["data"]["dimuon"]["toy"]["n_events"],
        seed=SEED,
    log:
        "logs/data/dimuon_toy.log",
    cache: "omit-software"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-events {params.n} --seed {params.seed} > {log} 2>&1"


rule dimuon_download:
    output:
        "resources/dimuon/download/Run2012BC_DoubleMuParked_Muons.root",
    params:
        script=script("download"),
        url=config["data"]["dimuon"]["download"]["url"],
        sha256=config["data"]["dimuon"]["download"]["sha256"],
    log:
        "logs/data/dimuon_download.log",
    cache: "omit-software"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --url {params.url} --sha256 '{params.sha256}' --out {output} > {log} 2>&1"


# Top/QCD jet constituents (ParT .npy layout) for classifier_surrogates.
rule toptag_toy:
    output:
        multiext("resources/toptag/toy/tl", "_pf_vectors.npy", "_pf_points.npy", "_pf_mask.npy", "_labels.npy"),
    params:
        n_jets=config["data"]["toptag"]["toy"]["n_jets"],
        seed=SEED,
        script=script("toptag_toy"),
    log:
        "logs/data/toptag_toy.log",
    benchmark:
        "results/data/benchmarks/toptag_toy.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --prefix resources/toptag/toy/tl --n-jets {params.n_jets} "
        "--seed {params.seed} > {log} 2>&1"


# Fine-grained jet classes (JetClass-like toy, or a ParT-format excerpt) for
# the jet foundation-model studies; one on-disk format (data.jet_constituents).
rule jetclass_toy:
    output:
        "resources/jetclass/toy/jets.h5",
    params:
        script=script("jets_toy"),
        code=source_hash("jets_toy", "data/jet_constituents.py", "io.py"),
        n_jets=config["data"]["jetclass"]["toy"]["n_jets"],
        n_max=config["data"]["jetclass"]["toy"]["n_max"],
        classes=" ".join(config["data"]["jetclass"]["toy"]["classes"]),
        seed=SEED,
    log:
        "logs/data/jetclass_toy.log",
    cache: "omit-software"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-jets {params.n_jets} --n-max {params.n_max} "
        "--classes {params.classes} --seed {params.seed} > {log} 2>&1"


rule jetclass_excerpt:
    input:
        lambda w: config["data"]["jetclass"]["excerpts"][w.name]["folder"],
    output:
        "resources/jetclass/excerpt/{name}/jets.h5",
    params:
        script=script("jets_prepare"),
        n_max=config["data"]["jetclass"]["toy"]["n_max"],
        classes=lambda w: " ".join(config["data"]["jetclass"]["excerpts"][w.name]["class_names"]),
    log:
        "logs/data/jetclass_excerpt_{name}.log",
    benchmark:
        "results/data/benchmarks/jetclass_excerpt_{name}.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-max {params.n_max} "
        "--class-names {params.classes} --folder {input} > {log} 2>&1"
