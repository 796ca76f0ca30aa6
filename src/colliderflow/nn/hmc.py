"""Batched Hamiltonian Monte Carlo in torch: leapfrog integration plus a
Metropolis accept/reject, many independent chains at once.

``log_prob(x)`` maps a batch ``x`` of shape (n, d) to log densities of shape
(n,) (unnormalised, differentiable in ``x``). Each chain carries its own step
size, so one call can run chains on distributions of different widths (e.g.
the annealed intermediate densities of FAB or the latent densities of ELSA).
Non-finite log densities count as -inf (the proposal is rejected), so a
target that is zero outside its support is handled by rejection.

The leapfrog integrator is volume preserving and reversible and the
Metropolis step uses the exact Hamiltonian difference, so (with a fixed step
size) each transition leaves ``exp(log_prob)`` invariant. Step-size adaptation
(``adapt=True``) changes the kernel between transitions and belongs to
burn-in only.

Device: the chains run where ``x0`` lives; pass a ``generator`` created on
that device (``torch.Generator(device=...)``) and every draw stays there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

LogProb = Callable[[torch.Tensor], torch.Tensor]


def log_prob_and_grad(log_prob: LogProb, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``log_prob(x)`` and its gradient in ``x``, both detached; NaN -> -inf, grad NaN/inf -> 0."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        lp = log_prob(xg)
        (g,) = torch.autograd.grad(lp.sum(), xg)
    lp = torch.nan_to_num(lp.detach(), nan=-torch.inf, posinf=-torch.inf)
    g = torch.nan_to_num(g.detach(), nan=0.0, posinf=0.0, neginf=0.0)
    return lp, g


def _draw(fn: Callable, shape: tuple, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """``fn`` (torch.randn / torch.rand) on the generator's device (the
    tensor's without one), moved to the tensor's device: a generator created
    on the chains' device draws there, with no host-to-device copy."""
    dev = generator.device if generator is not None else like.device
    return fn(shape, generator=generator, dtype=like.dtype, device=dev).to(like.device)


def _col(step: float | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    step = torch.as_tensor(step, dtype=like.dtype, device=like.device)
    return step.expand(n).reshape(n, 1) if step.ndim == 0 else step.reshape(n, 1)


def hmc_step(log_prob: LogProb, x: torch.Tensor, step_size: float | torch.Tensor, n_leapfrog: int = 5,
             generator: torch.Generator | None = None, logp: torch.Tensor | None = None,
             grad: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One HMC transition of every chain.

    ``step_size``: a scalar or one per chain (n,). ``logp``/``grad`` at ``x``
    may be passed to save an evaluation. Returns ``(x, logp, grad, p_accept)``
    with the Metropolis acceptance probability of each chain (n,).
    """
    n = len(x)
    eps = _col(step_size, n, x)
    if logp is None or grad is None:
        logp, grad = log_prob_and_grad(log_prob, x)
    p0 = _draw(torch.randn, tuple(x.shape), generator, x)
    q, p, g = x.detach(), p0 + 0.5 * eps * grad, grad
    for i in range(n_leapfrog):
        q = q + eps * p
        lq, g = log_prob_and_grad(log_prob, q)
        if i < n_leapfrog - 1:
            p = p + eps * g
    p = p + 0.5 * eps * g
    log_ratio = (lq - 0.5 * (p * p).sum(1)) - (logp - 0.5 * (p0 * p0).sum(1))
    log_ratio = torch.nan_to_num(log_ratio, nan=-torch.inf)
    p_acc = torch.exp(log_ratio.clamp(max=0.0))
    u = _draw(torch.rand, (n,), generator, x)
    acc = (u < p_acc) & torch.isfinite(lq)
    x_new = torch.where(acc[:, None], q, x.detach())
    logp_new = torch.where(acc, lq, logp)
    grad_new = torch.where(acc[:, None], g, grad)
    return x_new, logp_new, grad_new, torch.where(torch.isfinite(lq), p_acc, torch.zeros_like(p_acc))


@dataclass
class HMCResult:
    x: torch.Tensor            # final state of every chain (n, d)
    log_prob: torch.Tensor     # log density there (n,)
    step_size: torch.Tensor    # per-chain step size at the end (n,)
    accept_rate: float         # mean Metropolis acceptance probability over chains and steps
    n_evaluations: int         # log_prob evaluations (points), gradient included
    chain: torch.Tensor | None = None  # (n_steps, n, d) when requested


def adapt_step_size(step: torch.Tensor, p_accept: torch.Tensor, target_accept: float = 0.65,
                    rate: float = 0.5, lo: float = 1e-4, hi: float = 10.0) -> torch.Tensor:
    """Multiplicative Robbins-Monro update of per-chain step sizes towards ``target_accept``."""
    return (step * torch.exp(rate * (p_accept - target_accept))).clamp(lo, hi)


def sample(log_prob: LogProb, x0: torch.Tensor, n_steps: int, step_size: float | torch.Tensor = 0.1,
           n_leapfrog: int = 5, n_adapt: int = 0, target_accept: float = 0.65, generator: torch.Generator | None = None,
           keep_chain: bool = False, adapt: str = "shared") -> HMCResult:
    """Run ``n_adapt`` burn-in transitions with step-size adaptation, then
    ``n_steps`` transitions with the step size frozen (valid MCMC).

    ``adapt="shared"`` scales every chain's step by one factor from the mean
    acceptance of all chains (chains of one target); ``"per_chain"`` adapts
    each chain on its own acceptance. Per-chain adaptation biases short
    chains: a chain's frozen step then depends on where that chain has been,
    and the final states are not target-distributed (5-d standard normal,
    20000 chains from the target, 15 + 20 transitions: mean r^2 4.90-4.92 +-
    0.022 instead of 5, KS p ~ 1e-3; shared: no bias beyond the noise).

    ``x0`` (n, d) starts n independent chains. The result holds the final
    states (one sample per chain) and, with ``keep_chain``, every state after
    burn-in.
    """
    if adapt not in ("shared", "per_chain"):
        raise ValueError(f"adapt must be 'shared' or 'per_chain', not {adapt!r}")
    x = x0.detach().clone()
    step = _col(step_size, len(x), x).reshape(-1).clone()
    logp, grad = log_prob_and_grad(log_prob, x)
    n_eval = len(x)
    acc_sum, chain = torch.zeros((), dtype=torch.float64, device=x.device), []  # on the device: no per-step sync
    for t in range(n_adapt + n_steps):
        x, logp, grad, p_acc = hmc_step(log_prob, x, step, n_leapfrog, generator, logp, grad)
        n_eval += n_leapfrog * len(x)
        if t < n_adapt:
            step = adapt_step_size(step, p_acc if adapt == "per_chain" else p_acc.mean().expand_as(p_acc),
                                   target_accept)
        else:
            acc_sum = acc_sum + p_acc.mean().double()
            if keep_chain:
                chain.append(x.clone())
    return HMCResult(x=x, log_prob=logp, step_size=step, accept_rate=float(acc_sum) / max(n_steps, 1),
                     n_evaluations=n_eval, chain=torch.stack(chain) if keep_chain and chain else None)
