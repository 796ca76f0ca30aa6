"""One module (or package) per study; each exposes the functions the
workflow scripts call and writes its metrics through colliderflow.metrics."""
