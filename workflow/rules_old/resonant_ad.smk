# Resonant anomaly detection on LHCO R&D: R-ANODE (ANODE, CATHODE, R-ANODE, IAD,
# supervised) and TRANSIT share the prepared events, one frozen background flow
# and the per-seed injection scans. Config: studies.ranode / studies.transit,
# passed to the scripts as shell-quoted JSON.
import json
import shlex

RANODE = config["studies"]["ranode"]
TRANSIT = config["studies"]["transit"]
RANODE_CFG = shlex.quote(json.dumps(RANODE, sort_keys=True, separators=(",", ":")))
TRANSIT_CFG = shlex.quote(json.dumps(TRANSIT, sort_keys=True, separators=(",", ":")))
RANODE_SEEDS = list(range(RANODE["seeds"]))
LHCO_EVENTS = "resources/lhco/events.h5"

STUDIES["ranode"] = [
    "results/ranode/metrics.json",
    "results/ranode/max_sic_vs_injection.png",
    "results/ranode/sic_curves.png",
    "results/ranode/learned_w.png",
]
STUDIES["transit"] = [
    "results/transit/metrics.json",
    "results/transit/template_closure.png",
    "results/transit/transit_max_sic.png",
]


rule ranode_background:
    input:
        LHCO_EVENTS,
    output:
        model="results/ranode/models/background_flow.pt",
        hparams="results/ranode/models/background_flow.json",
    params:
        script=script("resonant_ad_background"),
        cfg=RANODE_CFG,
        seed=SEED,
    threads: 1
    log:
        "logs/ranode/background.log",
    benchmark:
        "results/ranode/benchmarks/background.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input} --out {output.model} "
        "--cfg {params.cfg} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule transit_train:
    input:
        LHCO_EVENTS,
    output:
        model="results/transit/models/transit.pt",
        hparams="results/transit/models/transit.json",
    params:
        script=script("transit_train"),
        cfg=RANODE_CFG,
        tcfg=TRANSIT_CFG,
        seed=SEED,
    threads: 1
    log:
        "logs/transit/train.log",
    benchmark:
        "results/transit/benchmarks/train.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input} --out {output.model} --cfg {params.cfg} "
        "--transit-cfg {params.tcfg} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule transit_closure:
    input:
        events=LHCO_EVENTS,
        background=rules.ranode_background.output.model,
        transit=rules.transit_train.output.model,
    output:
        json="results/transit/closure.json",
        png=report("results/transit/template_closure.png", caption="../report/transit.rst", category="TRANSIT"),
        pdf="results/transit/template_closure.pdf",
    params:
        script=script("transit_closure"),
        tier=TIER,
        cfg=RANODE_CFG,
        tcfg=TRANSIT_CFG,
        seed=SEED,
    threads: 1
    log:
        "logs/transit/closure.log",
    benchmark:
        "results/transit/benchmarks/closure.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input.events} --background {input.background} "
        "--transit {input.transit} --out {output.json} --figure {output.png} --cfg {params.cfg} "
        "--transit-cfg {params.tcfg} --seed {params.seed} --threads {threads} --tier {params.tier} > {log} 2>&1"


rule ranode_scan:
    input:
        events=LHCO_EVENTS,
        background=rules.ranode_background.output.model,
        transit=rules.transit_train.output.model,
    output:
        "results/ranode/scan/seed{scan_seed}.json",
    wildcard_constraints:
        scan_seed=r"\d+",
    params:
        script=script("resonant_ad_scan"),
        cfg=RANODE_CFG,
        tcfg=TRANSIT_CFG,
        seed=SEED,
    threads: 1
    log:
        "logs/ranode/scan_seed{scan_seed}.log",
    benchmark:
        "results/ranode/benchmarks/scan_seed{scan_seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input.events} --background {input.background} "
        "--transit {input.transit} --out {output} --cfg {params.cfg} --transit-cfg {params.tcfg} "
        "--seed {params.seed} --scan-seed {wildcards.scan_seed} --threads {threads} > {log} 2>&1"


rule ranode_report:
    input:
        expand("results/ranode/scan/seed{s}.json", s=RANODE_SEEDS),
    output:
        metrics="results/ranode/metrics.json",
        max_sic=report("results/ranode/max_sic_vs_injection.png", caption="../report/ranode.rst", category="R-ANODE"),
        curves=report("results/ranode/sic_curves.png", caption="../report/ranode.rst", category="R-ANODE"),
        w=report("results/ranode/learned_w.png", caption="../report/ranode.rst", category="R-ANODE"),
        pdfs=expand("results/ranode/{f}.pdf", f=["max_sic_vs_injection", "sic_curves", "learned_w"]),
    params:
        script=script("ranode_report"),
        tier=TIER,
        cfg=RANODE_CFG,
    threads: 1
    log:
        "logs/ranode/report.log",
    benchmark:
        "results/ranode/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} {input} --outdir results/ranode --cfg {params.cfg} "
        "--tier {params.tier} > {log} 2>&1"


rule transit_report:
    input:
        scans=expand("results/ranode/scan/seed{s}.json", s=RANODE_SEEDS),
        closure=rules.transit_closure.output.json,
        background=rules.ranode_background.output.model,
        transit=rules.transit_train.output.model,
    output:
        metrics="results/transit/metrics.json",
        png=report("results/transit/transit_max_sic.png", caption="../report/transit.rst", category="TRANSIT"),
        pdf="results/transit/transit_max_sic.pdf",
    params:
        script=script("transit_report"),
        tier=TIER,
        cfg=RANODE_CFG,
        tcfg=TRANSIT_CFG,
    threads: 1
    log:
        "logs/transit/report.log",
    benchmark:
        "results/transit/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} {input.scans} --closure {input.closure} "
        "--background {input.background} --transit {input.transit} --outdir results/transit "
        "--cfg {params.cfg} --transit-cfg {params.tcfg} --tier {params.tier} > {log} 2>&1"
