"""The smoke run's published models (ONNX files, model cards, validation
sets, check records) name no path of the machine that built them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..conftest import REPO

#: every published artifact of a run, relative to its working directory
PUBLISHED = ("results/*/published*", "results/fpga_tagging/models/*/published*")


def published_files(workdir: Path) -> list[Path]:
    """The files under results/*/published*/ (directories and the
    published_check*.json beside them) and fpga_tagging's models/*/published*/ (float and quantized)."""
    out = set()
    for pattern in PUBLISHED:
        for p in workdir.glob(pattern):
            out |= {p} if p.is_file() else {f for f in p.rglob("*") if f.is_file()}
    return sorted(out)


def machine_paths(workdir: Path) -> list[str]:
    """The working directory, the repository, the Python installation and any
    site-packages directory (``<site-packages>``, the placeholder, is fine)."""
    paths = {str(workdir), os.path.realpath(workdir), str(REPO), os.path.realpath(REPO), sys.prefix,
             os.path.realpath(sys.prefix), sys.base_prefix, "/site-packages", "\\site-packages", "/dist-packages"}
    return sorted(paths)


def leaks(workdir: Path) -> list[str]:
    """``file: path`` for every machine path in a published file's bytes."""
    found = []
    for f in published_files(workdir):
        data = f.read_bytes()
        found += [f"{f.relative_to(workdir)}: {p}" for p in machine_paths(workdir) if p.encode() in data]
    return found


def check_published(workdir: Path) -> None:
    files = published_files(workdir)
    assert any(f.name == "model.onnx" for f in files), f"no published model under {workdir}"
    found = leaks(workdir)
    assert not found, "published files name the build machine:\n" + "\n".join(found)


def test_published_models_are_machine_free(smoke_run):
    check_published(smoke_run)
