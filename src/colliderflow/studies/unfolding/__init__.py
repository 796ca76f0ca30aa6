"""Unfolding study (SPINUP, Butter, Heimel, Huetsch, Kagan, Plehn): IBU,
OmniFold and SPINUP on a toy of jet substructure observables, with a
prior-independence test, plus a small real gen/reco check on CMS NanoAOD.

Modules:

* :mod:`.data` -- the gen/reco pair table (toy generator, detector model,
  NanoAOD GenJet/Jet reader), binning and the chi2 used by every method.
* :mod:`.ibu` -- iterative Bayesian unfolding (binned, numpy).
* :mod:`.omnifold` -- OmniFold (two-step classifier reweighting, torch).
* :mod:`.spinup` -- SPINUP (conditional-flow forward model + unfolded flow
  fitted to the data likelihood with neural importance sampling, zuko).
* :mod:`.report` -- chi2 tables, prior shift, figures, metrics.json.
"""
