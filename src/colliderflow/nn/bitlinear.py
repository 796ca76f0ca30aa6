"""BitNet linear layers: binary (BitLinear, arXiv:2310.11453) and ternary
1.58-bit (BitNet b1.58, arXiv:2402.17764) weights, trained through a
straight-through estimator (STE) on latent full-precision weights.

Forward pass of :class:`BitLinear` (shapes: x (..., in), W (out, in))::

    x  -> LayerNorm(x) (no affine; ``norm=False`` skips it)
       -> absmax per token: x_q = clamp(round(x Q / g), -Q, Q - 1) g / Q,
          g = max |x| over the last axis, Q = 2^(act_bits - 1)
          (``act_bits=None`` keeps activations in float)
    W  -> binary:  W_q = beta  * sign(W - mean W),          beta  = mean |W|
          ternary: W_q = gamma * clamp(round(W / gamma), -1, 1), gamma = mean |W|
    y  =  x_q W_q^T + b        (bias kept in float)

Both quantisers use the STE ``q = w + (Q(w) - w).detach()``: the forward pass
sees the quantised value, the gradient reaches the latent float weight
unchanged. A masked layer (zuko's ``MaskedLinear``, autoregressive flows)
keeps its mask: masked entries are structural zeros, the scale is taken
over the unmasked entries. Per-token activation statistics would mix the
inputs an autoregressive mask keeps apart, so flows swap with ``norm=False,
act_bits=None`` (weight-only quantisation).

Mode ``"full"`` keeps float weights and activations behind the same
LayerNorm: the full-precision reference with the quantised network's
architecture. :func:`swap_linear` replaces the ``nn.Linear`` layers of a
model in place; :func:`weight_bits` counts the weight memory (float32 = 32
bits, binary = 1 bit, ternary = log2(3) = 1.58 bits per weight (5 weights
per byte, 1.6 bits, is the packing reached in practice), + one float32
scale per quantised layer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("binary", "ternary")
#: "full": float weights and activations behind the same LayerNorm, the
#: full-precision reference with the architecture of the quantised network
LAYER_MODES = ("full", *MODES)
#: bits per stored weight: information content of the allowed values
BITS_PER_WEIGHT = {"full": 32.0, "binary": 1.0, "ternary": math.log2(3.0)}
FLOAT_BITS = 32
EPS = 1e-8


def quantize_weight(w: torch.Tensor, mode: str, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(levels, scale)``: levels in {-1, +1} (binary) or {-1, 0, +1}
    (ternary), 0 where ``mask`` is False; the quantised weight is
    ``scale * levels``. No gradient flows through this function."""
    if mode not in MODES:
        raise ValueError(f"unknown quantisation mode '{mode}' (known {list(MODES)})")
    w = w.detach()
    m = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.bool()
    n = m.sum().clamp(min=1)
    scale = ((w.abs() * m).sum() / n).clamp(min=EPS)
    if mode == "binary":
        alpha = (w * m).sum() / n
        levels = torch.where(w - alpha >= 0, 1.0, -1.0)
    else:
        levels = torch.clamp(torch.round(w / scale), -1.0, 1.0)
    return levels * m, scale


def quantize_activations(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Absmax ``bits``-bit fake quantisation per token (last axis), with STE."""
    q = 2 ** (bits - 1)
    g = x.detach().abs().amax(dim=-1, keepdim=True).clamp(min=EPS)
    xq = torch.clamp(torch.round(x.detach() * q / g), -q, q - 1) * g / q
    return x + (xq - x).detach()


class BitLinear(nn.Linear):
    """Drop-in ``nn.Linear`` with binary or ternary weights (see module doc).

    ``weight`` is the latent full-precision weight that the optimiser
    updates; :meth:`quantized` gives the (levels, scale) used in the forward
    pass. ``mask`` (out, in) bool, optional: fixed connectivity.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mode: str = "ternary",
                 act_bits: int | None = 8, norm: bool = True, mask: torch.Tensor | None = None):
        super().__init__(in_features, out_features, bias)
        if mode not in LAYER_MODES:
            raise ValueError(f"unknown quantisation mode '{mode}' (known {list(LAYER_MODES)})")
        if act_bits is not None and not 2 <= int(act_bits) <= 16:
            raise ValueError(f"act_bits must be in 2..16 or None, got {act_bits}")
        self.mode, self.act_bits = mode, act_bits
        self.norm = nn.LayerNorm(in_features, elementwise_affine=False) if norm else nn.Identity()
        self.register_buffer("mask", None if mask is None else mask.bool().clone())

    def quantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        return quantize_weight(self.weight, self.mode, self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.mode == "full":
            return F.linear(x, self.weight if self.mask is None else self.weight * self.mask, self.bias)
        if self.act_bits is not None:
            x = quantize_activations(x, int(self.act_bits))
        levels, scale = self.quantized()
        w = self.weight + (scale * levels - self.weight).detach()  # STE
        return F.linear(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}, act_bits={self.act_bits}, masked={self.mask is not None}"


def swap_linear(model: nn.Module, mode: str, keep=(), act_bits: int | None = 8, norm: bool = True) -> list[str]:
    """Replace every ``nn.Linear`` of ``model`` (subclasses included, e.g.
    zuko's masked layers, whose mask is kept) by a :class:`BitLinear` with
    the same weights, in place; returns the swapped module names.

    ``keep``: module names left in full precision (BitNet keeps the input
    embedding and the output head in float). Linear layers owned by
    ``nn.MultiheadAttention`` are left alone: it reads their weights directly
    and never calls their forward. ``mode="full"`` gives the float reference
    with the same LayerNorm in front of the same layers.
    """
    if mode not in LAYER_MODES:
        raise ValueError(f"unknown quantisation mode '{mode}' (known {list(LAYER_MODES)})")
    keep = set(keep)
    unknown = keep - {name for name, _ in model.named_modules()}
    if unknown:
        raise ValueError(f"keep names no module: {sorted(unknown)}")
    swapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.MultiheadAttention):
            keep |= {f"{name}.{child}" if name else child for child, _ in module.named_children()}
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or isinstance(module, BitLinear) or name in keep:
            continue
        mask = getattr(module, "mask", None)
        new = BitLinear(module.in_features, module.out_features, module.bias is not None, mode=mode,
                        act_bits=act_bits, norm=norm, mask=mask if isinstance(mask, torch.Tensor) else None)
        new = new.to(module.weight.device, module.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(module.weight)
            if module.bias is not None:
                new.bias.copy_(module.bias)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
        swapped.append(name)
    return swapped


def weight_bits(model: nn.Module) -> dict:
    """Memory of the trained parameters in bits.

    Weights of binary / ternary :class:`BitLinear` layers count
    ``BITS_PER_WEIGHT[mode]`` each plus one float32 scale per layer; every
    other parameter (biases, layers kept in float) counts 32 bits. ``full_bits`` is the same model
    with every parameter in float32, ``ratio`` = full_bits / total_bits.
    """
    quant_w, quant_bits, n_layers = 0, 0.0, 0
    bit_params = set()
    for module in model.modules():
        if isinstance(module, BitLinear) and module.mode in MODES:
            n = module.weight.numel()
            quant_w += n
            quant_bits += n * BITS_PER_WEIGHT[module.mode] + FLOAT_BITS
            n_layers += 1
            bit_params.add(id(module.weight))
    n_params = sum(p.numel() for p in model.parameters())
    float_params = sum(p.numel() for p in model.parameters() if id(p) not in bit_params)
    total = quant_bits + FLOAT_BITS * float_params
    full = FLOAT_BITS * n_params
    return {"total_bits": float(total), "full_bits": float(full), "ratio": float(full / total) if total else 1.0,
            "n_params": int(n_params), "quantised_weights": int(quant_w), "float_params": int(float_params),
            "quantised_layers": int(n_layers)}
