# Helpers shared by the workflow (functions only; the rules live in the other files).
import os

# The library lives in src/; every shell job imports it from there, also when
# the package is not installed (e.g. inside a conda env built from envs/).
_SRC = os.path.join(workflow.basedir, "src")
shell.prefix(f'export PYTHONPATH="{_SRC}:$PYTHONPATH"; ')

SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")
TIER = config["tier"]
SEED = config["seed"]

# Each study registers its final outputs as STUDIES[name] = [paths].
STUDIES = {}


def script(name):
    """Absolute path of workflow/scripts/<name>.py, passed to a rule as a param."""
    return os.path.join(SCRIPTS, f"{name}.py")


def source_hash(name, *modules):
    """sha256 of workflow/scripts/<name>.py and the library code it runs
    (files or packages under src/colliderflow; a package counts with all its
    .py files). Passed as a param of cached rules: the between-workflow cache
    keys on params and the shell string only, so this makes a code change
    recompute instead of returning a stale artifact."""
    import glob
    import hashlib

    h = hashlib.sha256()
    files = [script(name)]
    for m in modules:
        path = os.path.join(_SRC, "colliderflow", m)
        files += sorted(glob.glob(os.path.join(path, "*.py"))) if os.path.isdir(path) else [path]
    for f in files:
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


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


def dataset_input(dataset, toy_rule, download_rule):
    """Input function: the toy output, the downloaded file or the local files,
    following config["data"][dataset]["source"]."""

    def _inputs(wildcards):
        src = config["data"][dataset]["source"]
        if src == "toy":
            return toy_rule.output
        if src == "download":
            return download_rule.output
        return data_files(dataset)

    return _inputs


def toptag_prefix():
    d = config["data"]["toptag"]
    return d["files"][0] if d["source"] == "file" else "resources/toptag/toy/tl"


def toptag_inputs(wildcards):
    return [f"{toptag_prefix()}_{k}.npy" for k in ("pf_vectors", "pf_points", "pf_mask", "labels")]


def calo_inputs(wildcards):
    """Calorimeter showers (l2lflows): train, test and geometry, from the toy
    or the config data.calo files (source: file)."""
    d = config["data"]["calo"]
    if d["source"] == "toy":
        return dict(rules.calo_toy.output)
    if len(d["files"]) != 2 or not d["geometry"]:
        raise ValueError("config data.calo: source 'file' needs files: [training, test] and a geometry XML")
    return {"train": d["files"][0], "test": d["files"][1], "geometry": d["geometry"]}
