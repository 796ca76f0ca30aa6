"""zuko normalizing flows with the conventions of this project: inputs are
standardised by a fixed affine transform stored in the module's buffers, so
``log_prob`` is always in the original feature units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import zuko


class StandardizedFlow(torch.nn.Module):
    """A zuko flow over standardised features, optionally conditional.

    ``kind``: "nsf" (neural spline flow), "maf" (affine autoregressive) or
    "cnf" (zuko's continuous flow; ``transforms`` and ``bins`` unused, the ODE
    tolerances are loosened to atol=1e-5, rtol=1e-4 for speed).
    ``log_prob(x, c)`` and ``sample(n, c)`` work in the original units; the
    Jacobian of the standardisation is included in ``log_prob``.
    """

    def __init__(self, features: int, context: int = 0, kind: str = "nsf", transforms: int = 4,
                 hidden: tuple[int, ...] = (64, 64), bins: int = 8, x_mean: torch.Tensor | np.ndarray | None = None,
                 x_std: torch.Tensor | np.ndarray | None = None, c_mean: torch.Tensor | np.ndarray | None = None,
                 c_std: torch.Tensor | np.ndarray | None = None, passes: int | None = None) -> None:
        super().__init__()
        self.hparams = dict(features=features, context=context, kind=kind, transforms=transforms,
                            hidden=list(hidden), bins=bins)
        # passes (nsf/maf): None = fully autoregressive (zuko's default); 2 = coupling layers, whose
        # inverse (sampling, decode) costs two network passes instead of one per feature
        extra = {} if passes is None else {"passes": passes}
        self.hparams.update(extra)
        if kind == "nsf":
            self.flow = zuko.flows.NSF(features, context, transforms=transforms, hidden_features=hidden, bins=bins,
                                       **extra)
        elif kind == "maf":
            self.flow = zuko.flows.MAF(features, context, transforms=transforms, hidden_features=hidden, **extra)
        elif kind == "cnf":
            self.flow = zuko.flows.CNF(features, context, hidden_features=hidden, atol=1e-5, rtol=1e-4)
        else:
            raise ValueError(f"unknown flow kind '{kind}' (nsf, maf or cnf)")
        self.register_buffer("x_mean", torch.zeros(features) if x_mean is None
                             else torch.as_tensor(x_mean, dtype=torch.float32))
        self.register_buffer("x_std", torch.ones(features) if x_std is None
                             else torch.as_tensor(x_std, dtype=torch.float32))
        self.register_buffer("c_mean", torch.zeros(max(context, 1)) if c_mean is None
                             else torch.as_tensor(c_mean, dtype=torch.float32))
        self.register_buffer("c_std", torch.ones(max(context, 1)) if c_std is None
                             else torch.as_tensor(c_std, dtype=torch.float32))

    @classmethod
    def fitted_to(cls, x: torch.Tensor | np.ndarray, c: torch.Tensor | np.ndarray | None = None,
                  **kw) -> StandardizedFlow:
        """Construct with the standardisation fitted to data ``x`` (and ``c``)."""
        x = torch.as_tensor(x, dtype=torch.float32)
        args = dict(x_mean=x.mean(0), x_std=x.std(0).clamp_min(1e-6))
        if c is not None:
            c = torch.as_tensor(c, dtype=torch.float32).reshape(len(c), -1)
            args.update(c_mean=c.mean(0), c_std=c.std(0).clamp_min(1e-6))
        return cls(x.shape[1], 0 if c is None else c.shape[1], **kw, **args)

    def _dist(self, c: torch.Tensor | np.ndarray | None) -> torch.distributions.Distribution:
        if self.hparams["context"]:
            c = ((torch.as_tensor(c, dtype=self.c_mean.dtype).reshape(-1, self.hparams["context"]) - self.c_mean)
                 / self.c_std)
            return self.flow(c)
        return self.flow()

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        z = (x - self.x_mean) / self.x_std
        return self._dist(c).log_prob(z) - torch.log(self.x_std).sum()

    def latent(self, x: torch.Tensor | np.ndarray, c: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        """The base-space image ``z = f(x; c)`` of ``x``, shape (n, features).

        For data that the flow models well, ``z`` is standard normal and, for a
        conditional flow, independent of ``c`` (the decorrelated latent).
        """
        z = (torch.as_tensor(x, dtype=self.x_mean.dtype) - self.x_mean) / self.x_std
        return self._dist(c).transform(z)

    def decode(self, z: torch.Tensor, c: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        """The inverse of :meth:`latent`: data ``x = f^{-1}(z; c)``, differentiable in ``z``."""
        return self._dist(c).transform.inv(z) * self.x_std + self.x_mean

    def rsample_and_log_prob(self, n: int | None = None,
                             c: torch.Tensor | np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised samples (gradients flow to the parameters) and their
        ``log_prob``: ``n`` of them (unconditional) or one per row of ``c``."""
        dist = self._dist(c)
        z, lp = dist.rsample_and_log_prob(() if self.hparams["context"] else (n,))
        return z * self.x_std + self.x_mean, lp - torch.log(self.x_std).sum()

    def sample(self, n: int | None = None, c: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
        """``n`` samples (unconditional) or one per row of ``c``."""
        if self.hparams["context"]:
            z = self._dist(c).sample()
        else:
            z = self._dist(None).sample((n,))
        return z * self.x_std + self.x_mean

    def nll(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mean negative log-likelihood of a (x,) or (x, c) batch: a loss_fn body."""
        x = batch[0]
        c = batch[1] if self.hparams["context"] else None
        return -self.log_prob(x, c).mean()


class LogLikelihood(torch.nn.Module):
    """What a flow is published as (ONNX, :mod:`colliderflow.publish`): ``forward(x)`` = log p(x) of an
    unconditional flow, ``forward(x, c)`` = log p(x | c) of a conditional one, per event."""

    def __init__(self, flow: torch.nn.Module) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow.log_prob(x) if c is None else self.flow.log_prob(x, c)


class Decoder(torch.nn.Module):
    """A flow's sampler as published: ``forward(z[, c])`` = its inverse transform ``x = f^-1(z; c)``
    (a sample of the flow for ``z`` ~ N(0, 1))."""

    def __init__(self, flow: StandardizedFlow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow.decode(z, c)


def publish_flow(flow: torch.nn.Module, inputs: dict[str, np.ndarray], out_dir: str | Path, *, name: str,
                 input_specs: dict[str, dict], description: str = "", sampler: bool = False, **card) -> dict:
    """A (conditional) :class:`colliderflow.nn.flows.StandardizedFlow` published in float64 (in float32 torch
    and onnxruntime differ by 1e-5 to 5e-5 on log-densities of O(10), over the check's 1e-5): ``out_dir``
    holds ``log_prob`` = log p(x [| c]) of ``inputs`` (``x``, then the context), and with ``sampler``
    ``out_dir``/sampler the inverse transform ``x = f^-1(z [; c])`` (draw ``z`` from N(0, 1) for samples
    of the flow), checked on the latent images of the frozen ``x`` (about 5 CPU s more for a 4-d NSF of 3
    transforms: a study publishes the sampler where its paper samples the flow). Returns
    :func:`publish_checked`'s record of the log-density with the sampler's under ``sampler``."""
    import copy

    from ..publish import publish_checked

    flow64 = copy.deepcopy(flow).double().eval()
    x_name, *c_names = list(inputs)
    rec = publish_checked(LogLikelihood(flow64), inputs, out_dir, name=name, input_specs=input_specs,
                          description=description, float_dtype=np.float64,
                          outputs={"log_prob": {"description": "log-density of each row of x"
                                                + (f" given {', '.join(c_names)}" if c_names else "")}}, **card)
    if sampler:
        c = [np.asarray(inputs[k], dtype=np.float64) for k in c_names]
        with torch.no_grad():
            z = flow64.latent(torch.as_tensor(np.asarray(inputs[x_name], dtype=np.float64)),
                              *(torch.as_tensor(v) for v in c)).numpy()
        specs = {"z": {"units": "1", "preprocessing": "none: a standard-normal draw, one row per sample"},
                 **{k: input_specs[k] for k in c_names}}
        rec["sampler"] = publish_checked(
            Decoder(flow64), {"z": z, **dict(zip(c_names, c))}, Path(out_dir) / "sampler", name=f"{name} (sampler)",
            input_specs=specs, description=f"the inverse transform of: {description}", float_dtype=np.float64,
            outputs={x_name: {"description": f"{x_name} = f^-1(z) in the units of {x_name}: a sample of the flow "
                                             "for z ~ N(0, 1)"}}, **card)
    return rec
