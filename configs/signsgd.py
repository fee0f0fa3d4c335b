"""A student's own optimizer, raced against torch's by ``optimizer: signsgd.SignSGD``."""

import torch
from torch.optim import Optimizer


class SignSGD(Optimizer):
    """Steps by lr in the direction of the gradient's sign, whatever its size."""

    def __init__(self, params, lr=0.05):
        if lr <= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(torch.sign(p.grad), alpha=-group["lr"])
        return loss
