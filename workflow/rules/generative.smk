# Generative studies: Convolutional L2LFlows (calorimeter showers), FAB (flow
# annealed importance sampling on a Dalitz-plot matrix element) and ELSA
# (latent-space refinement of a flow surrogate). Steps: src/colliderflow/studies/
# {l2lflows,fab,elsa}/steps.py.


from colliderflow.studies.l2lflows import calo_inputs


S = step("l2lflows", "train")


rule l2lflows_train:
    input:
        unpack(lambda w: calo_inputs(config)),
    output:
        model="results/l2lflows/l2lflows.pt",
        hparams="results/l2lflows/l2lflows.json",
        generated="results/l2lflows/generated.h5",
        summary="results/l2lflows/train_summary.json",
        ablation="results/l2lflows/generated_mlp.h5",
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


S = step("l2lflows", "report")


rule l2lflows_report:
    input:
        unpack(lambda w: calo_inputs(config)),
        generated=rules.l2lflows_train.output.generated,
        summary=rules.l2lflows_train.output.summary,
        ablation=rules.l2lflows_train.output.ablation,
        tables=lambda w: config["studies"]["l2lflows"]["reference_results"],
    output:
        metrics="results/l2lflows/metrics.json",
        layers=S.figure("results/l2lflows/layer_energies.png"),
        shapes=S.figure("results/l2lflows/shower_shapes.png"),
        auc=S.figure("results/l2lflows/auc.png"),
        pdfs=expand("results/l2lflows/{f}.pdf", f=["layer_energies", "shower_shapes", "auc"]),
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


S = step("fab", "train")


rule fab_train:
    output:
        metrics="results/fab/metrics.json",
        curves="results/fab/curves.json",
        efficiency=S.figure("results/fab/efficiency.png"),
        dalitz=S.figure("results/fab/dalitz.png"),
        pdfs=expand("results/fab/{f}.pdf", f=["efficiency", "dalitz"]),
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


S = step("elsa", "study")


rule elsa_study:
    input:
        # source lhe: the truth events come from an LHE file (the real tier's MG5 Z + jets)
        truth=lambda w: (
            [config["studies"]["elsa"]["truth"]["file"]]
            if config["studies"]["elsa"].get("truth", {}).get("source") == "lhe"
            else []
        ),
    output:
        metrics="results/elsa/metrics.json",
        ratios=S.figure("results/elsa/ratios.png"),
        roc=S.figure("results/elsa/roc.png"),
        pdfs=expand("results/elsa/{f}.pdf", f=["ratios", "roc"]),
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
