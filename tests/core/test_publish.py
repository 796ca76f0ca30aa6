"""colliderflow.publish: published models carry no path of the machine that built them."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from colliderflow.publish import publish_checked, relative_paths, write_check

REPO = Path(__file__).resolve().parents[2]

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def machine_paths(*extra: Path) -> list[str]:
    """Strings that name this machine: the repository, the working directory,
    the Python installation, a site-packages directory (``/site-packages``: the
    placeholder ``<site-packages>`` is fine), the temporary and home directories."""
    paths = {str(REPO), os.getcwd(), sys.prefix, sys.base_prefix, "/site-packages", "/dist-packages", "\\site-packages",
             tempfile.gettempdir() + os.sep, "/tmp/", str(Path.home()) + os.sep, *map(str, extra)}
    return sorted(p for p in paths if len(p.strip(os.sep)) > 1)


def leaks(directory: Path, *extra: Path) -> list[str]:
    """``file: path`` for every machine path in the bytes of any file under ``directory``."""
    found = []
    for f in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = f.read_bytes()
        found += [f"{f.name}: {p}" for p in machine_paths(*extra) if p.encode() in data]
    return found


class Tagger(torch.nn.Module):
    """A tiny two-input model; the dynamo exporter records a stack trace
    (this file, torch's modules in site-packages) on every node."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)
        self.norm = torch.nn.LayerNorm(4)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (self.norm(self.lin(x)) * mask[..., None]).sum(1)


class Broken(Tagger):
    """An exporter failure whose message names paths of this machine."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            raise RuntimeError(f"cannot convert {__file__} (from {sys.prefix}/lib/site-packages/torch/x.py)")
        return super().forward(x, mask)


def card(tmp_path: Path) -> dict:
    return dict(name="tiny", description=f"trained in {tmp_path}",
                input_specs={"x": {"units": "1", "preprocessing": f"see {REPO / 'src/colliderflow/nn/jets.py'}"},
                             "mask": {"units": "1", "preprocessing": "1 real, 0 padding"}},
                outputs={"score": {"description": "score"}},
                training_data={"file": str(tmp_path / "jets.h5"), "code": str(REPO / "src")})


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(8, 5, 3)), "mask": (rng.random((8, 5)) > 0.3).astype(np.float32)}


def test_relative_paths():
    site = next(p for p in sys.path if p.endswith("-packages"))
    assert relative_paths(str(REPO / "src" / "x.py")) == "src/x.py"
    trace = f'File "{site}/torch/nn/linear.py", line 3'
    assert relative_paths(trace) == 'File "<site-packages>/torch/nn/linear.py", line 3'
    assert relative_paths(f"{sys.prefix}/bin/python") == "<sys.prefix>/bin/python"
    assert relative_paths("/tmp/a/b.h5").endswith("/a/b.h5") and "/tmp/" not in relative_paths("/tmp/a/b.h5")
    assert relative_paths({"k": [str(REPO), 1.5, None], "t": (str(REPO / "a"),)}) == {"k": [".", 1.5, None],
                                                                                     "t": ("a",)}
    for text in ("results/lgatr/published", "log GeV, 1/GeV", "/l/Gemm_output_0", "p(x | m)", "/var/tmpx"):
        assert relative_paths(text) == text


def test_dynamo_export_is_machine_free(tmp_path, one_torch_thread):
    """The dynamo exporter writes stack traces (absolute paths of this file and
    of torch in site-packages) into the ONNX file; nothing published keeps them."""
    torch.manual_seed(0)
    model = Tagger().eval()
    raw = tmp_path / "raw.onnx"
    tensors = tuple(torch.as_tensor(v, dtype=torch.float32) for v in inputs().values())
    torch.onnx.export(model, tensors, str(raw), input_names=["x", "mask"], output_names=["score"], opset_version=18,
                      dynamo=True, external_data=False, optimize=False)
    assert b"site-packages" in raw.read_bytes(), "the exporter no longer embeds paths: the test checks nothing"
    raw.unlink()

    out = tmp_path / "published"
    rec = publish_checked(model, inputs(), out, **card(tmp_path), dynamo=True, opset=18)
    assert rec["exported"] and rec["passed"], rec
    write_check(tmp_path / "published" / "published_check.json", rec)
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model_card.json", "model_card.md",
                                                     "published_check.json", "validation.npz"]
    assert not leaks(out, tmp_path)
    import onnx

    meta = [p.value for n in onnx.load(str(out / "model.onnx")).graph.node for p in n.metadata_props
            if p.key == "pkg.torch.onnx.stack_trace"]
    assert meta and any("<site-packages>/torch/" in m for m in meta)  # relative, not stripped


def test_torchscript_export_is_machine_free(tmp_path, one_torch_thread):
    out = tmp_path / "published"
    rec = publish_checked(Tagger().eval(), inputs(), out, **card(tmp_path))
    assert rec["exported"] and rec["passed"], rec
    write_check(out / "published_check.json", rec)
    assert not leaks(out, tmp_path)


def test_exporter_error_is_machine_free(tmp_path, one_torch_thread):
    rec = publish_checked(Broken().eval(), inputs(), tmp_path / "published", **card(tmp_path))
    assert not rec["exported"] and "cannot convert" in rec["error"], rec
    assert "tests/core/test_publish.py" in rec["error"] and "<site-packages>/torch/x.py" in rec["error"]
    write_check(tmp_path / "check" / "published_check.json", rec)
    assert not leaks(tmp_path / "check", tmp_path)
