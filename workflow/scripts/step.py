"""The one entry point of every rule (``script: S.script``): runs the step
named in ``params.step`` with a :class:`colliderflow.study.Context`.

Each job leaves its record beside its log; rerun one step by hand with
``python -m colliderflow step logs/<study>/<step>.job.json``.
"""

import sys
from pathlib import Path

# the library of this checkout, also inside a conda env built from envs/
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from colliderflow.study import run_snakemake  # noqa: E402

run_snakemake(snakemake)  # noqa: F821
