# Measurements and inference: the dimuon spectrum, conditional flows for
# inference (bsm_scan, mle_calibration, likelihood_flows,
# classifier_surrogates) and unfolding (SPINUP, IBU, OmniFold).


# Dimuon spectrum from NanoAOD (toy or the real CMS 2012 DoubleMu excerpt).
S = step("dimuon", "spectrum")


rule dimuon_spectrum:
    input:
        lambda w: {
            "toy": "resources/dimuon/toy/dimuon_nanoaod.root",
            "download": "resources/dimuon/download/Run2012BC_DoubleMuParked_Muons.root",
        }.get(data_source("dimuon"), f"resources/dimuon/{data_source('dimuon')}/muons.root"),
    output:
        metrics="results/dimuon/metrics.json",
        png=S.figure("results/dimuon/dimuon_spectrum.png"),
        pdf="results/dimuon/dimuon_spectrum.pdf",
        masses="results/dimuon/dimuon_masses.npy",
    params:
        **S.params,
        source=config["data"]["dimuon"]["source"],
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


# Conditional flows for inference, one job per study: BSM scan (arXiv:2409.13201),
# MLE calibration (Du et al.), likelihood communication (Araz et al., nabu).
S = step("bsm_scan", "run")


rule bsm_scan_run:
    output:
        metrics="results/bsm_scan/metrics.json",
        png=S.figure("results/bsm_scan/bsm_scan.png", subcategory="bsm_scan"),
        pdf="results/bsm_scan/bsm_scan.pdf",
        onnx="results/bsm_scan/published/model.onnx",
        card="results/bsm_scan/published/model_card.json",
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


S = step("mle_calibration", "run")


rule mle_calibration_run:
    output:
        metrics="results/mle_calibration/metrics.json",
        png=S.figure("results/mle_calibration/mle_calibration.png", subcategory="mle_calibration"),
        pdf="results/mle_calibration/mle_calibration.pdf",
        # one flow per training prior (config priors): colliderflow.studies.mle_calibration.steps
        onnx=expand("results/mle_calibration/published/{prior}/model.onnx", prior=config["studies"]["mle_calibration"]["priors"]),
        card=expand("results/mle_calibration/published/{prior}/model_card.json", prior=config["studies"]["mle_calibration"]["priors"]),
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


S = step("likelihood_flows", "run")


rule likelihood_flows_run:
    input:
        # the real tier's posterior is the Z fit of the dimuon study's masses
        masses=lambda w: (["results/dimuon/dimuon_masses.npy"]
                          if config["studies"]["likelihood_flows"]["posterior"] == "dimuon_z" else []),
    output:
        metrics="results/likelihood_flows/metrics.json",
        png=S.figure("results/likelihood_flows/likelihood_flows.png", subcategory="likelihood_flows"),
        pdf="results/likelihood_flows/likelihood_flows.pdf",
        onnx="results/likelihood_flows/published/model.onnx",
        card="results/likelihood_flows/published/model_card.json",
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


# Classifier surrogate (arXiv:2402.15558) on the top/QCD jets: the toy
# (rule toptag_toy, prefix resources/toptag/toy/tl) or the files[0] prefix of config data.toptag.
S = step("classifier_surrogates", "run")


rule classifier_surrogates_run:
    input:
        unpack(
            lambda w: {
                name: (data_files("toptag")[0] if data_source("toptag") == "file" else "resources/toptag/toy/tl")
                + f"_{suffix}.npy"
                for name, suffix in (
                    ("vectors", "pf_vectors"),
                    ("points", "pf_points"),
                    ("mask", "pf_mask"),
                    ("labels", "labels"),
                )
            }
        ),
    output:
        metrics="results/classifier_surrogates/metrics.json",
        png=S.figure("results/classifier_surrogates/classifier_surrogates.png", subcategory="classifier_surrogates"),
        pdf="results/classifier_surrogates/classifier_surrogates.pdf",
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


# Unfolding (SPINUP paper): IBU, OmniFold and SPINUP, each with two simulation
# priors, on the pair table of the toy or of the NanoAOD files.
from colliderflow.studies import unfolding as UNFOLDING  # noqa: E402


S = step("unfolding", "unfold", "{method}_{prior}")


rule unfolding_unfold:
    input:
        table=lambda w: f"resources/unfolding/{'toy' if data_source('unfolding') == 'toy' else 'nanoaod'}/pairs.h5",
    output:
        unfolded="results/unfolding/unfolded/{method}_{prior}.npz",
    wildcard_constraints:
        method="|".join(UNFOLDING.METHODS),
        prior="|".join(UNFOLDING.PRIORS),
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


S = step("unfolding", "report")


rule unfolding_report:
    input:
        table=lambda w: f"resources/unfolding/{'toy' if data_source('unfolding') == 'toy' else 'nanoaod'}/pairs.h5",
        results=expand(
            "results/unfolding/unfolded/{method}_{prior}.npz", method=UNFOLDING.METHODS, prior=UNFOLDING.PRIORS
        ),
    output:
        metrics="results/unfolding/metrics.json",
        a=S.figure("results/unfolding/unfolded_sim_a.png"),
        b=S.figure("results/unfolding/unfolded_sim_b.png"),
        it=S.figure("results/unfolding/chi2_vs_iteration.png"),
        pdfs=expand("results/unfolding/{f}.pdf", f=UNFOLDING.STUDY.figures),
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
