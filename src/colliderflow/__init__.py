"""colliderflow: reproducing collider-physics machine-learning papers end to end.

The library behind the Snakemake workflow: data readers and toy generators
(:mod:`colliderflow.data`), neural-network building blocks and the shared
training loop (:mod:`colliderflow.nn`), one module per study
(:mod:`colliderflow.studies`), plotting and metrics helpers.
"""

__version__ = "0.1.0"
