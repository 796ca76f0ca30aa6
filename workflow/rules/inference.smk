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
        }.get(data_source("dimuon"), data_files("dimuon")),
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
