"""What the Snakefile asks of the study contract: each rule's directives
derived from its step (:class:`colliderflow.study.Step`), and the targets of
the enabled studies. Imported at parse time: keep it free of heavy imports.

A rule in ``workflow/rules/`` reads::

    S = step("omnijet", "backbone")


    rule omnijet_backbone:
        input: ...
        output: ...
        params: **S.params          # the step, its config section whole, seed, tier
        threads: S.threads
        resources: **S.resources    # cluster requests (memory, runtime, GPU) from the step
        log: S.log
        benchmark: S.benchmark
        conda: S.conda
        script: S.script            # workflow/scripts/step.py -> colliderflow.studies.omnijet.steps.backbone
"""

from __future__ import annotations

import copy
import functools
import glob
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from .study import Step, Study, load

_SRC = os.path.dirname(os.path.abspath(__file__))


def _lookup(config: Mapping, section: str) -> Any:
    node: Any = config
    for key in section.split("/"):
        node = node[key]
    return node


def source_hash(*paths: str) -> str:
    """sha256 (16 hex digits) of library files or packages under
    ``src/colliderflow`` (a package counts with all its ``.py`` files). A
    param of cached rules: the between-workflow cache keys on params, so a
    code change recomputes instead of returning a stale artifact."""
    h = hashlib.sha256()
    for p in paths:
        full = os.path.join(_SRC, p)
        files = sorted(glob.glob(os.path.join(full, "**", "*.py"), recursive=True)) if os.path.isdir(full) else [full]
        for f in files:
            h.update(os.path.relpath(f, _SRC).encode())
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()[:16]


#: HTCondor (CERN) queues and their maximum runtime in minutes
JOB_FLAVOURS = (("espresso", 20), ("microcentury", 60), ("longlunch", 120), ("workday", 480), ("tomorrow", 1440),
                ("testmatch", 4320), ("nextweek", 10080))


def job_flavour(minutes: int) -> str:
    """The shortest HTCondor ``JobFlavour`` whose limit fits ``minutes``."""
    for name, limit in JOB_FLAVOURS:
        if minutes <= limit:
            return name
    return JOB_FLAVOURS[-1][0]


def tier_label(config: Mapping, study: str) -> str:
    """The tier a study's metrics.json records: the tier's name, and the
    reason when the study still runs toy data there (config ``toy_data``):
    ``real (toy data: no real excerpt of ...)``, never a plain ``real``."""
    why = (config.get("toy_data") or {}).get(study)
    return f"{config['tier']} (toy data: {why})" if why else str(config["tier"])


class StepRule:
    """The directives of one rule, derived from its step.

    ``tag`` is appended to the log and benchmark names for rules with
    wildcards (e.g. ``"{process}"``), so each job has its own files.
    """

    def __init__(self, study: str, step: str, tag: str = "", *, config: Mapping, basedir: str) -> None:
        self.study: Study = load(study)
        self.step: Step = self.study.step(step)
        self.rule = self.study.rule_name(step)
        self._config = config
        self._basedir = basedir
        self._name = f"{step}_{tag}" if tag else step

    @property
    def params(self) -> dict:
        section = _lookup(self._config, self.study.section(self.step))
        out = {"step": f"{self.study.name}.{self.step.name}", "cfg": section, "seed": self._config["seed"],
               "tier": tier_label(self._config, self.study.name)}
        if self.step.cached:
            pkg = "data" if self.study.name == "data" else f"studies/{self.study.name}"
            out["code"] = source_hash(pkg, "data", "nn", "eventclass", "io.py", "study.py", "errors.py")
        return out

    @property
    def threads(self) -> int:
        return self.step.threads

    @property
    def resources(self) -> dict:
        """Cluster requests derived from the step: memory and runtime of the
        first attempt, growing with each retry (SLURM ``mem_mb``/``runtime``,
        HTCondor ``htcondor_request_mem_mb`` and the lxplus queue that fits the
        runtime); steps that can use a GPU ask for one (SLURM ``gpu`` in the
        ``gpu`` partition, HTCondor ``request_gpus``). Local runs ignore them."""
        mem, runtime = self.step.mem_mb, self.step.runtime
        res: dict[str, Any] = {
            "mem_mb": lambda wildcards, attempt: mem * attempt,
            "htcondor_request_mem_mb": lambda wildcards, attempt: mem * attempt,
            "runtime": lambda wildcards, attempt: runtime * attempt,
            "classad_JobFlavour": lambda wildcards, attempt: job_flavour(runtime * attempt),
        }
        if self.step.gpu:
            res.update(gpu=1, request_gpus=1, slurm_partition="gpu", cpus_per_task=4)
        return res

    @property
    def log(self) -> str:
        return f"logs/{self.study.name}/{self._name}.log"

    @property
    def benchmark(self) -> str:
        if self.step.cached:
            raise ValueError(f"rule {self.rule}: a cached step has no benchmark: (Snakemake forbids both)")
        return f"results/{self.study.name}/benchmarks/{self._name}.tsv"

    @property
    def conda(self) -> str:
        return os.path.join(self._basedir, "envs", f"{self.step.env}.yaml")

    @property
    def cache(self) -> str | bool:
        return "omit-software" if self.step.cached else False

    @property
    def script(self) -> str:
        return os.path.join(self._basedir, "workflow", "scripts", "step.py")

    def figure(self, path: str, subcategory: str | None = None) -> Any:
        """An output shown in the report with the study's caption."""
        from snakemake.io import report

        return report(path, caption=str(self.study.caption), category=self.study.category or self.study.title,
                      subcategory=subcategory)


def study_schema(name: str) -> str:
    """The schema fragment of a study's config section (beside its code)."""
    path = os.path.join(_SRC, "studies", name, "schema.yaml")
    if not os.path.isfile(path):
        raise KeyError(f"unknown study: no {os.path.relpath(path, os.path.dirname(os.path.dirname(_SRC)))}")
    return path


def data_source(config: Mapping, dataset: str) -> str:
    """Where a dataset comes from: toy, file or download."""
    return config["data"][dataset]["source"]


def data_files(config: Mapping, dataset: str) -> list[str]:
    """The local files of a dataset (`file` source), else an empty list."""
    d = config["data"][dataset]
    return list(d["files"]) if d["source"] == "file" else []


#: sources whose files are ingested one job per file, then merged
PER_FILE_SOURCES = ("file", "http", "xrootd")


def dataset_parts(config: Mapping, dataset: str) -> list[tuple[str, str]]:
    """(input, checksum or "") of each file of a per-file dataset
    (:func:`colliderflow.data.remote.dataset_parts`); else an empty list."""
    from .data.remote import dataset_parts

    return dataset_parts(config["data"][dataset], f"data.{dataset}")


@functools.lru_cache(maxsize=None)
def _schema_file(path: str) -> Any:
    """A schema file, parsed once per process: every ``$ref`` into
    config/schema.yaml is retrieved anew by jsonschema, and parsing it for
    each (about 270 per dry-run) cost 14 s of every snakemake start."""
    import yaml

    with open(path) as fh:
        return yaml.safe_load(fh)


def validator(study: str, defaults: bool = False) -> Any:
    """A JSON-schema validator of a study's config section (its
    ``schema.yaml``, with the ``$ref`` to config/schema.yaml resolved), for
    checking a section outside Snakemake. ``defaults``: validating fills in
    the schema's defaults (as Snakemake's ``validate`` does)."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    import jsonschema
    from referencing import Registry, Resource

    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(_schema_file(url2pathname(urlparse(uri).path)))

    path = os.path.abspath(study_schema(study))
    schema = {**copy.deepcopy(_schema_file(path)), "$id": "file://" + path}
    cls = _defaulting(jsonschema.Draft202012Validator) if defaults else jsonschema.Draft202012Validator
    return cls(schema, registry=Registry(retrieve=retrieve))


@functools.lru_cache(maxsize=None)
def _defaulting(cls: Any) -> Any:
    """``cls`` extended to fill in each property's ``default`` while it
    validates (the jsonschema FAQ recipe, which Snakemake's ``validate`` uses)."""
    import jsonschema

    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Mapping, instance: Any, schema: Mapping) -> Any:
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, Mapping) and "default" in sub:
                    instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


def fill_defaults(config: dict, basedir: str) -> None:
    """Fill in the defaults of config/schema.yaml and of each study's schema
    fragment, in place; raises ``jsonschema.ValidationError`` on a value the
    schemas refuse (:func:`config_error` has reported those first, in one
    line). One validator per schema file, each file parsed once: Snakemake's
    own ``validate`` re-reads the shared schema for every ``$ref`` (about 6 s
    of every snakemake start)."""
    import jsonschema

    root = _schema_file(os.path.abspath(os.path.join(basedir, "config", "schema.yaml")))
    _defaulting(jsonschema.Draft202012Validator)(root).validate(config)
    for name, section in config["studies"].items():
        try:
            v = validator(name, defaults=True)
        except KeyError as exc:
            raise KeyError(f"studies.{name}: {exc.args[0]}") from None
        v.validate(section)


def _walk(node: Any, key: str) -> Any:
    """Yield (dotted key, container, index) of every string in a config tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_item(node, k, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, _ in enumerate(node):
            yield from _walk_item(node, i, f"{key}[{i}]")


def _walk_item(container: Any, k: Any, key: str) -> Any:
    v = container[k]
    if isinstance(v, str):
        yield key, container, k
    else:
        yield from _walk(v, key)


def external_inputs(config: dict, cwd: str) -> list[tuple[str, str]]:
    """Make every config path outside the working directory (``../...``)
    absolute, relative to ``cwd`` (where snakemake started), so that it stays
    right when a tier runs in its own working directory; returns (config key,
    absolute path) of each, and of every absolute path, for :func:`missing_inputs`."""
    out = []
    for key, container, k in _walk(config, ""):
        value = container[k]
        if value.startswith("../"):
            container[k] = value = os.path.normpath(os.path.join(cwd, value))
        if value.startswith("/") and not value.startswith("//"):
            out.append((key, value))
    return out


def launch_dir() -> str:
    """Where snakemake was started: kept in ``COLLIDERFLOW_LAUNCH_DIR`` by the
    main process, so cluster jobs (which start in the tier's directory and
    parse the Snakefile again) resolve ``../`` inputs the same way."""
    return os.environ.setdefault("COLLIDERFLOW_LAUNCH_DIR", os.getcwd())


def missing_inputs(paths: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (key, path) whose file is absent (a path may be a prefix, e.g. the
    ParT ``.../tl`` of ``tl_pf_vectors.npy``)."""
    return [(k, p) for k, p in paths if not os.path.exists(p) and not glob.glob(glob.escape(p) + "*")]


def enabled_studies(config: Mapping) -> list[str]:
    """The enabled studies, in the order of the config's ``studies`` section."""
    return [n for n, section in config["studies"].items() if section.get("enabled", True)]


def study_targets(config: Mapping) -> list[str]:
    """metrics.json and every figure (PNG and PDF) of each enabled study."""
    out = []
    for name in enabled_studies(config):
        spec = load(name)
        out.append(f"results/{name}/metrics.json")
        for fig in spec.figures:
            out += [f"results/{name}/{fig}.png", f"results/{name}/{fig}.pdf"]
    return out


def study_metrics(config: Mapping) -> list[str]:
    return [f"results/{name}/metrics.json" for name in enabled_studies(config)]


# --------------------------------------------------------------------------- config errors, one line


def _root_validator(basedir: str) -> Any:
    import jsonschema
    import yaml

    with open(os.path.join(basedir, "config", "schema.yaml")) as fh:
        schema = yaml.safe_load(fh)
    return jsonschema.Draft202012Validator(schema), schema


def _key_of(error: Any, prefix: tuple = ()) -> str:
    path = [*prefix, *error.path]
    if error.validator == "required":  # the missing property is in the message, not the path
        missing = [p for p in error.validator_value if p not in (error.instance or {})]
        path += missing[:1]
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _problem(error: Any, schema: Mapping | None) -> str:
    """A short reason, with the rule's description where the schema has one."""
    value = error.instance
    if error.validator == "pattern":
        text = f"{value!r} is not valid"
    elif error.validator == "minItems" and not value:
        text = "is empty"
    elif error.validator == "minLength":
        text = f"{value!r} is too short ({len(value)} characters, {error.validator_value} needed)"
    elif error.validator == "required":
        text = "is missing"
    else:
        text = error.message
    desc = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    path = list(error.schema_path)
    if not desc and schema is not None and "then" in path:  # a conditional rule: say which one
        node: Any = schema
        for p in path[: path.index("then")]:
            node = node[p] if isinstance(node, (dict, list)) else {}
            if isinstance(node, Mapping) and "$ref" in node and node["$ref"].startswith("#/$defs/"):
                node = schema["$defs"][node["$ref"].split("/")[-1]]
        desc = node.get("description") if isinstance(node, Mapping) else None
    return f"{text} ({desc})" if desc else text


def _holder(key: str, files: list[str], overrides: Mapping | None, repo: str | None = None) -> str:
    """The config file whose value of ``key`` wins (the last one given that
    sets it; ``--config`` beats them all)."""
    import yaml

    parts = [p for p in key.replace("[", ".[").split(".") if p]

    def has(tree: Any) -> bool:
        node = tree
        for p in parts:
            if p.startswith("["):
                if not isinstance(node, list):
                    return False
                i = int(p[1:-1])
                if i >= len(node):
                    return False
                node = node[i]
            elif isinstance(node, Mapping) and p in node:
                node = node[p]
            else:
                return False
        return True

    def show(f: str) -> str:  # config/tiers/real.yaml for the repository's own files, else the path given
        rel = os.path.relpath(f, repo) if repo else os.pardir
        return str(f) if rel.startswith(os.pardir) else rel

    if overrides and has(overrides):
        return "--config"
    for f in reversed(files):
        try:
            with open(f) as fh:
                if has(yaml.safe_load(fh) or {}):
                    return show(f)
        except (OSError, yaml.YAMLError):
            continue
    return show(files[-1]) if files else "config"  # a required value no file sets: the last file should


def config_error(config: Mapping, basedir: str, files: list[str], overrides: Mapping | None = None) -> str | None:
    """The first schema problem of ``config`` as one line naming the config
    file that sets the key and the key (``config/tiers/real.yaml:
    data.lhco.files: is empty (...)``), or None. ``files`` are the config
    files in increasing precedence, ``overrides`` the ``--config`` values.
    Checked before Snakemake fills in the defaults, so no job runs on a bad value."""
    def first(errors: Any) -> Any:  # by key; a value's own rule (pattern, type) before conditional ones
        late = ("minLength", "minItems", "required")
        return min(errors, key=lambda e: (list(map(str, e.path)), e.validator in late, e.validator), default=None)

    validator_, schema = _root_validator(basedir)
    e = first(validator_.iter_errors(config))
    if e is not None:
        key = _key_of(e)
        return f"{_holder(key, files, overrides, basedir)}: {key or '(top level)'}: {_problem(e, schema)}"
    for name, section in (config.get("studies") or {}).items():
        try:
            v = validator(name)
        except KeyError:
            continue  # unknown study: the Snakefile reports it
        e = first(v.iter_errors(section))
        if e is not None:
            key = _key_of(e, ("studies", name))
            return f"{_holder(key, files, overrides, basedir)}: {key}: {_problem(e, None)}"
    for name in config.get("toy_data") or {}:
        try:
            validator(name)
        except KeyError:
            key = f"toy_data.{name}"
            return f"{_holder(key, files, overrides, basedir)}: {key}: not a study"
    return None
