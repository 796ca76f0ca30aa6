# colliderflow: collider-physics ML papers reproduced end to end.
#   snakemake --cores 2                                        default tier
#   snakemake --cores 2 --configfile config/tiers/smoke.yaml   minutes
#   snakemake --profile profiles/slurm --configfile config/tiers/real.yaml
#
# Every rule runs one step of a study (src/colliderflow/studies/<name>/steps.py)
# through workflow/scripts/step.py; step("<study>", "<step>") derives the
# rule's params (the study's config section, whole), threads, resources, log,
# benchmark and conda env from the study's spec. See docs/adding-a-study.md.
import os
import sys
from functools import partial

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from colliderflow import dag  # noqa: E402
from colliderflow.study import device_for_jobs, hash_seed_for_jobs  # noqa: E402

# Every job (a child of this process) iterates sets of strings in one order: same seed, same bytes.
hash_seed_for_jobs()


# Anchored at the repository so `snakemake -s .../Snakefile -d WORKDIR` works too.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# The root schema (tier, seed, data sources), then each study's section against
# the schema fragment beside its code. A bad value stops first with one line
# naming the config file that sets it and the key.
_problem = dag.config_error(
    config,
    workflow.basedir,
    [os.path.join(workflow.basedir, "config", "config.yaml"), *map(str, workflow.overwrite_configfiles)],
    workflow.config_settings.config,
)
if _problem:
    raise WorkflowError(f"config {_problem}")
# Then the schemas' defaults are filled in (each schema file parsed once).
try:
    dag.fill_defaults(config, workflow.basedir)
except KeyError as _exc:
    raise WorkflowError(f"config {_exc.args[0]}") from None


# Training device and torch.compile setting (resources.device and .compile, or COLLIDERFLOW_DEVICE and
# COLLIDERFLOW_COMPILE already in the environment) for every job.
device_for_jobs(config)


# Real inputs outside the working directory (../shared/data in the real tier)
# must exist before any job runs: one line naming the first missing file.
# Relative to where snakemake was started (inherited by cluster jobs, which
# start elsewhere and parse this file again).
_missing = dag.missing_inputs(dag.external_inputs(config, dag.launch_dir()))
if _missing:
    _key, _path = _missing[0]
    raise WorkflowError(
        f"config {_key}: {_path} not found ({len(_missing)} missing input(s) of the {config['tier']} tier; "
        "the real tier reads the excerpts in ../shared/data, see README 'Data': put your copies there "
        "or point the config at them)"
    )


# Tiers live side by side: the default tier works in the current directory,
# every other tier in runs/<tier>/ (results, resources, logs and summary of
# its own), unless a working directory is given with -d/--directory. Cluster
# jobs start in the directory the main process chose.
if config["tier"] != "default" and workflow.is_main_process:

    workdir: os.path.join(os.getcwd(), "runs", config["tier"])


# step("<study>", "<step>"): the directives of the rule that runs it (dag.StepRule);
# data_source/data_files: a dataset's source and its local files (`file` source).
step = partial(dag.StepRule, config=config, basedir=workflow.basedir)
data_source = partial(dag.data_source, config)
data_files = partial(dag.data_files, config)


include: "workflow/rules/data.smk"
include: "workflow/rules/anomaly.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/jets.smk"
include: "workflow/rules/generative.smk"
include: "workflow/rules/shared.smk"


rule all:
    input:
        dag.study_targets(config),
        "results/summary.md",
    default_target: True
