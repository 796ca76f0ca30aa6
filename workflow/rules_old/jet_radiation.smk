# Extrapolating jet radiation with autoregressive transformers (arXiv:2412.12074).
# Staircase Z + jets toy -> causal transformer trained on <= n_train_max jets with the
# plain likelihood, bootstrapping (starts from plain) and the perturbed-target loss ->
# multiplicity and first-unseen-jet kinematics vs truth.
import json


JR = config["studies"]["jet_radiation"]
JR_VARIANTS = ["plain", "bootstrap", "modified"]
JR_HPARAMS = json.dumps(
    {
        "n_train_max": JR["n_train_max"],
        "pt_min": JR["toy"]["pt_min"],
        **JR["model"],
        **JR["training"],
    }
)

STUDIES["jet_radiation"] = [
    "results/jet_radiation/metrics.json",
    "results/jet_radiation/jet_radiation_multiplicity.png",
    "results/jet_radiation/jet_radiation_third_jet.png",
    "results/jet_radiation/published_check.json",
    *expand("results/jet_radiation/published/{v}/model_card.json", v=JR_VARIANTS),
]


rule jet_radiation_toy:
    output:
        "resources/jet_radiation/toy/events.h5",
    params:
        script=script("jet_radiation_toy"),
        n_events=JR["n_events"],
        toy=json.dumps(JR["toy"]),
        seed=SEED,
    log:
        "logs/jet_radiation/toy.log",
    benchmark:
        "results/jet_radiation/benchmarks/toy.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} --n-events {params.n_events} --toy '{params.toy}' "
        "--seed {params.seed} > {log} 2>&1"


rule jet_radiation_train:
    input:
        events="resources/jet_radiation/toy/events.h5",
        init=lambda w: (
            ["results/jet_radiation/models/plain.pt"] if w.variant == "bootstrap" else []
        ),
    output:
        model="results/jet_radiation/models/{variant}.pt",
        hparams="results/jet_radiation/models/{variant}.json",
        samples="results/jet_radiation/samples/{variant}.h5",
        forced="results/jet_radiation/samples/{variant}_forced.h5",
        record="results/jet_radiation/models/{variant}_train.json",
    wildcard_constraints:
        variant="plain|bootstrap|modified",
    params:
        script=script("jet_radiation_train"),
        hparams=JR_HPARAMS,
        init=lambda w, input: f"--init {input.init[0]}" if input.init else "",
        train_fraction=JR["train_fraction"],
        n_generate=JR["n_generate"],
        n_gen_max=JR["n_gen_max"],
        seed=SEED,
    threads: 1
    log:
        "logs/jet_radiation/train_{variant}.log",
    benchmark:
        "results/jet_radiation/benchmarks/train_{variant}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input.events} --variant {wildcards.variant} {params.init} "
        "--hparams '{params.hparams}' --train-fraction {params.train_fraction} "
        "--n-generate {params.n_generate} --n-gen-max {params.n_gen_max} --model {output.model} "
        "--samples {output.samples} --forced {output.forced} --record {output.record} "
        "--seed {params.seed} --threads {threads} > {log} 2>&1"


rule jet_radiation_publish:
    input:
        events="resources/jet_radiation/toy/events.h5",
        models=expand("results/jet_radiation/models/{v}.pt", v=JR_VARIANTS),
        records=expand("results/jet_radiation/models/{v}_train.json", v=JR_VARIANTS),
    output:
        check="results/jet_radiation/published_check.json",
        onnx=expand("results/jet_radiation/published/{v}/model.onnx", v=JR_VARIANTS),
        card=expand("results/jet_radiation/published/{v}/model_card.json", v=JR_VARIANTS),
    params:
        script=script("jet_radiation_publish"),
        train_fraction=JR["train_fraction"],
        n_gen_max=JR["n_gen_max"],
        n_val=200,
    threads: 1
    log:
        "logs/jet_radiation/publish.log",
    benchmark:
        "results/jet_radiation/benchmarks/publish.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input.events} --models {input.models} --records {input.records} "
        "--outdir results/jet_radiation/published --out {output.check} --train-fraction {params.train_fraction} "
        "--n-gen-max {params.n_gen_max} --n-val {params.n_val} --threads {threads} > {log} 2>&1"


rule jet_radiation_report:
    input:
        events="resources/jet_radiation/toy/events.h5",
        samples=expand("results/jet_radiation/samples/{v}.h5", v=JR_VARIANTS),
        forced=expand("results/jet_radiation/samples/{v}_forced.h5", v=JR_VARIANTS),
        records=expand("results/jet_radiation/models/{v}_train.json", v=JR_VARIANTS),
        publish="results/jet_radiation/published_check.json",
    output:
        metrics="results/jet_radiation/metrics.json",
        mult=report(
            "results/jet_radiation/jet_radiation_multiplicity.png",
            caption="../report/jet_radiation.rst",
            category="Autoregressive jet radiation (arXiv:2412.12074)",
        ),
        mult_pdf="results/jet_radiation/jet_radiation_multiplicity.pdf",
        kin=report(
            "results/jet_radiation/jet_radiation_third_jet.png",
            caption="../report/jet_radiation.rst",
            category="Autoregressive jet radiation (arXiv:2412.12074)",
        ),
        kin_pdf="results/jet_radiation/jet_radiation_third_jet.pdf",
    params:
        script=script("jet_radiation_report"),
        train_fraction=JR["train_fraction"],
        n_train_max=JR["n_train_max"],
        n_gen_max=JR["n_gen_max"],
        holds_sigma=JR["holds_sigma"],
        tier=TIER,
    log:
        "logs/jet_radiation/report.log",
    benchmark:
        "results/jet_radiation/benchmarks/report.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --events {input.events} --samples {input.samples} --forced {input.forced} "
        "--records {input.records} --publish {input.publish} --outdir results/jet_radiation "
        "--train-fraction {params.train_fraction} "
        "--n-train-max {params.n_train_max} --n-gen-max {params.n_gen_max} "
        "--holds-sigma {params.holds_sigma} --tier {params.tier} > {log} 2>&1"
