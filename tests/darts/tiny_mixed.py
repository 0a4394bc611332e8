"""A tiny smooth float64 supernet and a plain functional reference for its Hessian blocks.

x → Linear → mix_0 → mix_1 → Linear with
mix_e(h) = softmax(α_e)_0 · tanh(h) + softmax(α_e)_1 · softplus(A_e h + b_e),
smooth everywhere, so second derivatives are well defined and finite differences converge.
With `pinned` (the default) the last class's logit is fixed at 0: no logit shift then leaves the loss
unchanged, so H = ∇²_w L is invertible in general and a plain solve serves as reference.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

IN, HIDDEN, CLASSES = 3, 4, 3


class TinyMixed(nn.Module):
    def __init__(self, seed: int = 0, pinned: bool = True) -> None:
        super().__init__()
        self.pinned = pinned
        self.fc_in = nn.Linear(IN, HIDDEN)
        self.op = nn.ModuleList(nn.Linear(HIDDEN, HIDDEN) for _ in range(2))
        self.fc_out = nn.Linear(HIDDEN, CLASSES - 1 if pinned else CLASSES)
        self.alpha = nn.Parameter(torch.zeros(2, 2))
        gen = torch.Generator().manual_seed(seed)
        self.double()
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.7 * torch.randn(p.shape, generator=gen, dtype=torch.float64))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def weights(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc_in(x)
        for e, op in enumerate(self.op):
            mix = torch.softmax(self.alpha[e], dim=0)
            h = mix[0] * torch.tanh(h) + mix[1] * F.softplus(op(h))
        logits = self.fc_out(h)
        return F.pad(logits, (0, 1)) if self.pinned else logits


def batch(seed: int, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, IN, generator=gen, dtype=torch.float64), torch.randint(CLASSES, (n,), generator=gen)


def flat(params) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def functional_loss(model: TinyMixed, data):
    """L(w_flat, α_flat): the model's cross-entropy as a plain function of two flat vectors."""
    x, y = data
    names = [(name, p.shape) for name, p in model.named_parameters() if name != "alpha"]

    def loss(w, a):
        params, start = {"alpha": a.reshape(model.alpha.shape)}, 0
        for name, shape in names:
            size = shape.numel()
            params[name] = w[start : start + size].reshape(shape)
            start += size
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    return loss


def hessian_blocks(model: TinyMixed, data) -> tuple[torch.Tensor, torch.Tensor]:
    """(H_ww, H_αw) by torch.autograd.functional.hessian: H = ∇²_w L and M[i, j] = ∂²L/∂α_i∂w_j."""
    (h_ww, _), (h_aw, _) = torch.autograd.functional.hessian(
        functional_loss(model, data), (flat(model.weights()), flat(model.arch_parameters()))
    )
    return h_ww, h_aw


def val_grad_w(model: TinyMixed, data) -> torch.Tensor:
    w, a = flat(model.weights()).requires_grad_(), flat(model.arch_parameters())
    return torch.autograd.grad(functional_loss(model, data)(w, a), w)[0]


def val_grad_alpha(model: TinyMixed, data) -> torch.Tensor:
    w, a = flat(model.weights()), flat(model.arch_parameters()).requires_grad_()
    return torch.autograd.grad(functional_loss(model, data)(w, a), a)[0]
