# Dimuon spectrum from NanoAOD (toy or the real CMS 2012 DoubleMu excerpt).

STUDIES["dimuon"] = [
    "results/dimuon/metrics.json",
    "results/dimuon/dimuon_spectrum.png",
]


rule dimuon_spectrum:
    input:
        dataset_input("dimuon", rules.dimuon_toy, rules.dimuon_download),
    output:
        metrics="results/dimuon/metrics.json",
        png=report(
            "results/dimuon/dimuon_spectrum.png",
            caption="../report/dimuon.rst",
            category="Dimuon spectrum (CMS open data)",
        ),
        pdf="results/dimuon/dimuon_spectrum.pdf",
        masses="results/dimuon/dimuon_masses.npy",
    params:
        script=script("dimuon_spectrum"),
        tier=TIER,
        real=lambda w: "--real" if config["data"]["dimuon"]["source"] != "toy" else "",
        entry_stop=config["studies"]["dimuon"]["max_events"],
    log:
        "logs/dimuon/spectrum.log",
    benchmark:
        "results/dimuon/benchmarks/spectrum.tsv"
    conda:
        "../../envs/plot.yaml"
    shell:
        "python {params.script} --tier {params.tier} --outdir results/dimuon "
        "--max-events {params.entry_stop} {params.real} {input} > {log} 2>&1"
