"""Event classification on NanoAOD with a shared permutation-invariant event
encoder (issue 6): decay-aware multi-task network (arXiv:2212.08759),
self-supervised pre-training (arXiv:2312.06909) and a unified latent space of
SM and BSM models (arXiv:2407.20315)."""
