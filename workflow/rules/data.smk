# Datasets: toy generators (default), local real files, or downloads; every
# source ends in the file the studies read. Steps: src/colliderflow/data/steps.py
# (the `data` pseudo-study), plus each study's own toy (tails_abcd, unfolding,
# jet_radiation). Generators and downloads are cached between workflows
# (SNAKEMAKE_OUTPUT_CACHE=dir snakemake --cache): their params carry the code hash.
# A study rule names a dataset by its path, never by rules.<name>, so the rule
# files can be included in any order.


S = step("data", "lhco_toy")


rule lhco_toy:
    output:
        "resources/lhco/toy/events_anomalydetection_v2.features.h5",
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


S = step("data", "lhco_download")


rule lhco_download:
    output:
        "resources/lhco/download/events_anomalydetection_v2.features.h5",
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


S = step("data", "lhco_prepare")


rule lhco_prepare:
    input:
        lambda w: {"toy": rules.lhco_toy.output, "download": rules.lhco_download.output}.get(
            data_source("lhco"), data_files("lhco")
        ),
    output:
        f"resources/lhco/{data_source('lhco')}/events.h5",
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


S = step("data", "dimuon_toy")


rule dimuon_toy:
    output:
        "resources/dimuon/toy/dimuon_nanoaod.root",
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


S = step("data", "dimuon_download")


rule dimuon_download:
    output:
        "resources/dimuon/download/Run2012BC_DoubleMuParked_Muons.root",
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


# A multi-file NanoAOD dataset (source file, http or xrootd): one ingestion job per file
# (its muons as a slim NanoAOD part: http files are downloaded, checked and deleted, root://
# files streamed), then a merge in input order that records the files skipped. The job
# finds its file (and checksum: config, else the file list's) by index in the same list.
DIMUON_PARTS = dag.dataset_parts(config, "dimuon")
DIMUON_DIR = f"resources/dimuon/{data_source('dimuon')}"
S = step("data", "dimuon_ingest", "{index}")


rule dimuon_ingest:
    input:
        lambda w: [DIMUON_PARTS[int(w.index)][0]] if data_source("dimuon") == "file" else [],
    output:
        part=f"{DIMUON_DIR}/parts/{{index}}.root",
        report=f"{DIMUON_DIR}/parts/{{index}}.json",
    wildcard_constraints:
        index=r"\d+",
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


S = step("data", "dimuon_merge")


rule dimuon_merge:
    input:
        parts=expand(f"{DIMUON_DIR}/parts/{{index}}.root", index=range(len(DIMUON_PARTS))),
        reports=expand(f"{DIMUON_DIR}/parts/{{index}}.json", index=range(len(DIMUON_PARTS))),
    output:
        muons=f"{DIMUON_DIR}/muons.root",
        report=f"{DIMUON_DIR}/muons.json",
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


# Top/QCD jet constituents (ParT .npy layout) for classifier_surrogates.
S = step("data", "toptag_toy")


rule toptag_toy:
    output:
        multiext("resources/toptag/toy/tl", "_pf_vectors.npy", "_pf_points.npy", "_pf_mask.npy", "_labels.npy"),
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


# Multi-process NanoAOD with generator truth (event-classification studies).
S = step("data", "nanoaod_toy", "{process}")


rule nanoaod_toy:
    output:
        "resources/nanoaod/toy/{process}.root",
    wildcard_constraints:
        process="[A-Za-z0-9_]+",
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


# Five-class jets (q, g, W, Z, t) for fpga_tagging: toy or a ParT-format excerpt.
S = step("data", "jets_toy")


rule jets_toy:
    output:
        "resources/jets/toy/jets.h5",
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


S = step("data", "jets_prepare")


rule jets_prepare:
    input:
        lambda w: data_files("jets")[:1],
    output:
        "resources/jets/file/jets.h5",
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


# Fine-grained jet classes (JetClass-like toy, or a ParT-format excerpt) for
# the jet foundation-model studies; one on-disk format (data.jet_constituents).
S = step("data", "jetclass_toy")


rule jetclass_toy:
    output:
        "resources/jetclass/toy/jets.h5",
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


S = step("data", "jetclass_excerpt", "{name}")


rule jetclass_excerpt:
    input:
        lambda w: config["data"]["jetclass"]["excerpts"][w.name]["folder"],
    output:
        "resources/jetclass/excerpt/{name}/jets.h5",
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


# Calorimeter showers in the CaloChallenge layout (l2lflows).
S = step("data", "calo_toy")


rule calo_toy:
    input:
        # a CaloChallenge binning XML (real tier: dataset 2's) or none (the config's geometry)
        binning=lambda w: config["data"]["calo"]["toy"]["binning"] or [],
    output:
        train="resources/calo/toy/train.h5",
        test="resources/calo/toy/test.h5",
        geometry="resources/calo/toy/binning.xml",
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


# Study-specific toys: steps of their study, reading its config section
# (unfolding: data.unfolding).


# The tails toy: MET, jet features; background, control, signal pool.
S = step("tails_abcd", "toy")


rule tails_abcd_toy:
    output:
        "resources/tails_abcd/toy/tails.h5",
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

# Unfolding pair table: the jet-substructure toy (two simulation priors + data) ...
S = step("unfolding", "toy")


rule unfolding_toy:
    output:
        pairs="resources/unfolding/toy/pairs.h5",
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


# ... or GenJet/Jet pairs of the NanoAOD files of config data.unfolding (source: file).
S = step("unfolding", "nanoaod")


rule unfolding_nanoaod:
    input:
        files=data_files("unfolding"),
    output:
        pairs="resources/unfolding/nanoaod/pairs.h5",
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

# Staircase Z + jets toy of the jet-radiation study (truth for every multiplicity).
S = step("jet_radiation", "toy")


rule jet_radiation_toy:
    output:
        events="resources/jet_radiation/toy/events.h5",
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


# Real truth of the jet-radiation study (studies.jet_radiation.source: lhe): the
# outgoing partons of a Les Houches Event file (the real tier: MG5 Z + 0/1/2 jets).
S = step("jet_radiation", "lhe")


rule jet_radiation_lhe:
    input:
        lhe=lambda w: config["studies"]["jet_radiation"]["lhe"]["file"],
    output:
        events="resources/jet_radiation/lhe/events.h5",
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
