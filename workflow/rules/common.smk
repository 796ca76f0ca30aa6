# Helpers shared by every rule file.
import os
import sys

# The library lives in src/; make it importable for every shell job, also
# when the package is not installed (e.g. inside a conda env built from envs/).
_SRC = os.path.join(workflow.basedir, "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)

SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")
TIER = config["tier"]
SEED = config["seed"]

# Each study's rule file registers its final outputs here: STUDIES[name] = [paths].
STUDIES = {}


def enabled(study):
    return config["studies"][study]["enabled"]


def study_targets():
    return [p for name, paths in STUDIES.items() if enabled(name) for p in paths]


def study_metrics():
    return [f"results/{name}/metrics.json" for name in STUDIES if enabled(name)]


def data_files(dataset):
    """Input files of a dataset for the `file` source (empty otherwise)."""
    d = config["data"][dataset]
    return d["files"] if d["source"] == "file" else []
