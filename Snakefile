# colliderflow: collider-physics ML papers reproduced end to end.
#   snakemake --cores 2                                        default tier
#   snakemake --cores 2 --configfile config/tiers/smoke.yaml   minutes
#   snakemake --profile profiles/slurm --configfile config/tiers/real.yaml
import os

from snakemake.utils import min_version, validate

min_version("9.0")


# Anchored at the repository so `snakemake -s .../Snakefile -d WORKDIR` works too.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "config/schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/dimuon.smk"
include: "workflow/rules/tails_abcd.smk"
include: "workflow/rules/flow_inference.smk"
include: "workflow/rules/unfolding.smk"
include: "workflow/rules/eventclass_common.smk"
include: "workflow/rules/nanoaod.smk"
include: "workflow/rules/eventclass.smk"
include: "workflow/rules/fpga.smk"
include: "workflow/rules/resonant_ad.smk"
include: "workflow/rules/adammcmc.smk"
include: "workflow/rules/omnijet.smk"
include: "workflow/rules/jet_radiation.smk"
include: "workflow/rules/bithep.smk"
include: "workflow/rules/lgatr.smk"
include: "workflow/rules/l2lflows.smk"
include: "workflow/rules/fab.smk"
include: "workflow/rules/elsa.smk"
include: "workflow/rules/sophon.smk"
# last: the summary collects the studies registered above
include: "workflow/rules/summary.smk"


rule all:
    input:
        study_targets(),
        "results/summary.md",
    default_target: True
