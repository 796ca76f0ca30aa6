"""Every study's caption.rst renders as the report renders it (Jinja with
``snakemake.config``, then docutils) without a docutils warning or error: a
stray ``|x|`` is an undefined substitution, shown in the report as a
"Docutils System Message"."""

from __future__ import annotations

import copy
import functools
import io
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CAPTIONS = sorted((REPO / "src" / "colliderflow" / "studies").glob("*/caption.rst"))
TIERS = {"default": [], "smoke": ["smoke.yaml"], "real": ["real.yaml"]}


def merge(base: dict, update: dict) -> dict:
    """``update`` merged into ``base`` key by key (as Snakemake merges config files)."""
    for k, v in update.items():
        base[k] = merge(base.get(k, {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return base


def load_yaml(path: str | Path) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as fh:
        return yaml.load(fh, Loader=loader)


def fill_defaults(instance: dict, schema_path: str | Path, retrieve) -> None:
    """Validate ``instance`` against a schema file, filling in its defaults
    (as snakemake.utils.validate does; this is faster: the referenced root
    schema is read once)."""
    import jsonschema
    from referencing import Registry

    def set_defaults(validator, properties, inst, schema):
        for prop, sub in properties.items():
            if "default" in sub and isinstance(inst, dict):
                inst.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, inst, schema)

    schema = load_yaml(schema_path)
    schema["$id"] = Path(schema_path).resolve().as_uri()
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": set_defaults})
    cls(schema, registry=Registry(retrieve=retrieve)).validate(instance)


def tier_config(tier: str) -> dict:
    """config/config.yaml with the tier's file on top, validated with the
    defaults filled in, as the Snakefile does."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from referencing import Resource

    from colliderflow import dag

    @functools.cache
    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(load_yaml(url2pathname(urlparse(uri).path)))

    config = load_yaml(REPO / "config" / "config.yaml")
    for name in TIERS[tier]:
        merge(config, load_yaml(REPO / "config" / "tiers" / name) or {})
    fill_defaults(config, REPO / "config" / "schema.yaml", retrieve)
    for name, section in config["studies"].items():
        fill_defaults(section, dag.study_schema(name), retrieve)
    return config


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    return {tier: tier_config(tier) for tier in TIERS}


def render(caption: Path, config: dict) -> tuple[str, str]:
    """The caption through Jinja (Snakemake's report environment, undefined
    names an error) and docutils' HTML writer: (HTML body, docutils messages)."""
    from docutils.core import publish_parts
    from docutils.writers import get_writer_class
    from jinja2 import Environment, StrictUndefined

    class Snakemake:
        pass

    snakemake = Snakemake()
    snakemake.config = copy.deepcopy(config)
    links = "\n\n.. _Workflow: javascript:show_panel('workflow')\n.. _Statistics: javascript:show_panel('statistics')\n"
    text = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined).from_string(
        caption.read_text() + links).render(snakemake=snakemake, categories={}, files=[])
    messages = io.StringIO()
    body = publish_parts(text, writer=get_writer_class("html")(), settings_overrides={
        "warning_stream": messages, "report_level": 2, "halt_level": 5})["body"]
    return body, messages.getvalue()


def test_every_study_has_a_caption():
    assert len(CAPTIONS) >= 20


@pytest.mark.parametrize("caption", CAPTIONS, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("tier", list(TIERS))
def test_caption_renders_cleanly(caption, tier, configs):
    body, messages = render(caption, configs[tier])
    assert not messages, f"{caption.relative_to(REPO)} ({tier} tier):\n{messages}"
    assert "system-message" not in body and "System Message" not in body
    assert body.strip()
