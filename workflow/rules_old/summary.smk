# Gather every enabled study's metrics into results/summary.md.

# A second of work on small files: on a cluster it runs where snakemake runs
# instead of waiting for a batch slot.
localrules:
    summary,


rule summary:
    input:
        study_metrics(),
    output:
        report("results/summary.md", caption="../report/summary.rst", category="Summary"),
    params:
        script=script("summary"),
    log:
        "logs/summary.log",
    benchmark:
        "results/data/benchmarks/summary.tsv"
    conda:
        "../../envs/io.yaml"
    shell:
        "python {params.script} --out {output} {input} > {log} 2>&1"
