# Rules that gather the studies: the summary table of every enabled study.

# A second of work on small files: on a cluster it runs where snakemake runs
# instead of waiting for a batch slot.
localrules:
    summary,


S = step("shared", "summary")


rule summary:
    input:
        dag.study_metrics(config),
    output:
        S.figure("results/summary.md"),
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


# The worked example of docs/adding-a-study.md (studies.example, disabled by
# default; tests/studies/test_example.py runs it). A new study's rules look
# exactly like these.
S = step("example", "toy")


rule example_toy:
    output:
        events="results/example/events.npy",
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


S = step("example", "estimate")


rule example_estimate:
    input:
        events=rules.example_toy.output.events,
    output:
        metrics="results/example/metrics.json",
        png=S.figure("results/example/estimators.png"),
        pdf="results/example/estimators.pdf",
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
