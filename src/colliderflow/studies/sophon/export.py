"""Publishing the Sophon-style pre-trained encoder (arXiv:2405.12972) as
ONNX + model card (:mod:`colliderflow.publish`), checked in onnxruntime.
Separate from :mod:`colliderflow.studies.sophon.core` so that the training rules
do not need onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data.jet_constituents import read_jets
from ...nn.jets import PAIR_FEATURES, PARTICLE_FEATURES
from ...publish import publish_checked
from . import core


def publish(pretrained_path: str | Path, jets_path: str | Path, out_dir: str | Path, n_val: int = 200) -> dict:
    """ONNX export + card of the pre-trained encoder, then the onnxruntime check.
    Returns {"exported": bool, ...}; an export failure is recorded, not hidden."""
    model, info = core.load_tagger(pretrained_path)
    jets = read_jets(jets_path)
    x, mask, pairs = core.inputs(jets["constituents"][:n_val], model.hp["n_constituents"])
    n = model.hp["n_constituents"]
    return publish_checked(
        core.EncoderExport(model),
        {"particles": x.numpy(), "mask": mask.numpy().astype(np.float32), "pairs": pairs.numpy()}, out_dir,
        name=f"sophon_pretrained_encoder_{info['heldout']}_heldout",
        description=("Particle-Transformer-like jet encoder (pairwise interaction bias) pre-trained on "
                     f"{len(info['classes'])} fine-grained toy jet classes with {info['heldout']} held out "
                     "(Sophon-style, arXiv:2405.12972; trained by colliderflow)."),
        input_specs={
            "particles": {"units": "log GeV, 1, 1, rad, 1", "features": list(PARTICLE_FEATURES),
                          "preprocessing": f"colliderflow.nn.jets.particle_features of the {n} leading "
                                           "constituents (pT, eta_rel, phi_rel), zero on padding; "
                                           "standardised inside the model"},
            "mask": {"units": "1", "preprocessing": "1.0 for a real constituent (pT > 0), 0.0 for padding"},
            "pairs": {"units": "ln of (1, GeV, 1, GeV^2)", "features": list(PAIR_FEATURES),
                      "preprocessing": "colliderflow.nn.jets.pair_features (ParT interaction inputs)"}},
        outputs={"embedding": {"description": "jet embedding (masked mean of the encoder outputs)"},
                 "probabilities": {"description": f"softmax over the pre-training classes {info['classes']}"}},
        training_data={"file": info["jets_file"], "source": info["source"], "n_train": info["n_pretrain"],
                       "classes": info["classes"], "heldout": info["heldout"]},
        metrics={"best_val_loss": info["best_val_loss"], "pretrain_set_accuracy": info["pretrain_set_accuracy"]})
