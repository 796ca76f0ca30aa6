# Gather every enabled study's metrics into results/summary.md.


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
