"""Steps that gather the studies (a pseudo-study of the contract, ``shared``):
the summary table of every enabled study's metrics.json."""

from __future__ import annotations

from ..study import Step, Study

STUDY = Study(
    name="shared",
    paper="-",
    title="Steps shared by the studies",
    claim="-",
    package="colliderflow.shared",
    category="Summary",
    steps=(Step("summary", env="io", section="studies", doc="every study's metrics.json -> results/summary.md"),),
)
