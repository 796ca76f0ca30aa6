"""Event classification on NanoAOD with a shared permutation-invariant event
encoder: the code the decay_aware (arXiv:2212.08759), pretraining
(arXiv:2312.06909) and latent_space (arXiv:2407.20315) studies share.

``encoder``: the set encoder, its artifact, contrastive losses; ``common``:
labelled samples, engineered features, training loops, the XGBoost baseline.
This module stays light (imported when the Snakefile parses): only the
encoder's config dataclass lives here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderConfig:
    """``studies.<name>.encoder``: the shared set-encoder hyper-parameters."""

    dim: int
    heads: int
    layers: int
    out_dim: int
