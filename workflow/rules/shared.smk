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
