"""Control experiment: Keller Jordan's airbench94 (PyTorch), ported to CPU/float32, on our arrays.

Not part of the product and not a dependency: it answers one question — is the gap between our
Keras trainer and airbench's published 94 % in the recipe or in the data? It runs the reference
algorithm (same net, whitening, Dirac init, BatchNorm, Nesterov SGD, triangular schedule,
label smoothing, lookahead, alternating flip, whitening-bias freeze, batch 1024, 9.9 epochs,
flip+translate TTA) on the very arrays `portfolio-ml cifar train` uses (its .npz cache of the
shared JPEG copy). See docs/cifar.md for the result.

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python docs/experiments/airbench94_torch_reference.py CACHE.npz [EPOCHS]
"""

import sys
import time
from math import ceil

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HYP = {
    "batch_size": 1024,
    "lr": 11.5,  # per 1024 examples of a summed loss
    "momentum": 0.85,
    "weight_decay": 0.0153,
    "bias_scaler": 64.0,
    "label_smoothing": 0.2,
    "whiten_bias_epochs": 3,
    "widths": (64, 256, 256),
    "bn_momentum": 0.6,
    "scaling": 1 / 9,
}
MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.tensor(images).permute(0, 3, 1, 2).float() / 255
    return (x - MEAN) / STD


def batch_flip_lr(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)


def batch_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    r = (images.size(-1) - crop) // 2
    shifts = torch.randint(-r, r + 1, size=(len(images), 2))
    out = torch.empty((len(images), 3, crop, crop))
    for sy in range(-r, r + 1):
        for sx in range(-r, r + 1):
            mask = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            out[mask] = images[mask, :, r + sy : r + sy + crop, r + sx : r + sx + crop]
    return out


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, n: int, momentum: float, eps: float = 1e-12) -> None:
        super().__init__(n, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    def __init__(self, cin: int, cout: int, k: int = 3, padding="same", bias=False) -> None:
        super().__init__(cin, cout, kernel_size=k, padding=padding, bias=bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, cin: int, cout: int, momentum: float) -> None:
        super().__init__()
        self.conv1 = Conv(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(cout, momentum)
        self.conv2 = Conv(cout, cout)
        self.norm2 = BatchNorm(cout, momentum)
        self.activ = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Mul(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def make_net() -> nn.Sequential:
    w, m = HYP["widths"], HYP["bn_momentum"]
    net = nn.Sequential(
        Conv(3, 24, 2, padding=0, bias=True),
        nn.GELU(),
        ConvGroup(24, w[0], m),
        ConvGroup(w[0], w[1], m),
        ConvGroup(w[1], w[2], m),
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(w[2], 10, bias=False),
        Mul(HYP["scaling"]),
    )
    net[0].weight.requires_grad = False
    return net.to(memory_format=torch.channels_last)


def init_whitening(layer: nn.Conv2d, x: torch.Tensor, eps: float = 5e-4) -> None:
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 3, 2, 2).float()
    flat = patches.view(len(patches), -1)
    eigenvalues, eigenvectors = torch.linalg.eigh(flat.T @ flat / len(flat), UPLO="U")
    eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)
    eigenvectors = eigenvectors.T.reshape(12, 3, 2, 2).flip(0)
    scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled))


class Lookahead:
    def __init__(self, net: nn.Module) -> None:
        self.ema = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net: nn.Module, decay: float) -> None:
        for ema, param in zip(self.ema.values(), net.state_dict().values(), strict=True):
            if param.dtype in (torch.half, torch.float):
                ema.lerp_(param, 1 - decay)
                param.copy_(ema)


def infer(net: nn.Module, x: torch.Tensor, tta: bool) -> torch.Tensor:
    def mirror(b: torch.Tensor) -> torch.Tensor:
        return 0.5 * net(b) + 0.5 * net(b.flip(-1))

    net.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), 2000):
            b = x[i : i + 2000].contiguous(memory_format=torch.channels_last)
            if not tta:
                outs.append(net(b))
                continue
            padded = F.pad(b, (1,) * 4, "reflect")
            shifted = [mirror(padded[:, :, 0:32, 0:32]), mirror(padded[:, :, 2:34, 2:34])]
            outs.append(0.5 * mirror(b) + 0.5 * torch.stack(shifted).mean(0))
    net.train()
    return torch.cat(outs)


def main(cache: str, epochs: float) -> None:
    torch.manual_seed(0)
    arrays = np.load(cache)
    x_train, y_train = to_tensor(arrays["x_train"]), torch.tensor(arrays["y_train"])
    x_test, y_test = to_tensor(arrays["x_test"]), torch.tensor(arrays["y_test"])

    net = make_net()
    bs, momentum = HYP["batch_size"], HYP["momentum"]
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = HYP["lr"] / kilostep
    wd = HYP["weight_decay"] * bs / kilostep
    lr_biases = lr * HYP["bias_scaler"]
    norm_biases = [p for k, p in net.named_parameters() if "norm" in k and p.requires_grad]
    others = [p for k, p in net.named_parameters() if "norm" not in k and p.requires_grad]
    optimizer = torch.optim.SGD(
        [
            {"params": norm_biases, "lr": lr_biases, "weight_decay": wd / lr_biases},
            {"params": others, "lr": lr, "weight_decay": wd / lr},
        ],
        momentum=momentum,
        nesterov=True,
    )
    steps_per_epoch = len(x_train) // bs
    total = ceil(steps_per_epoch * epochs)

    def lr_factor(step: int) -> float:
        warmup = int(total * 0.23)
        if step < warmup:
            return 0.2 + 0.8 * step / warmup
        return 1.0 - 0.93 * (step - warmup) / (total - warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    alpha = 0.95**5 * (torch.arange(total + 1) / total) ** 3
    init_whitening(net[0], x_train[:5000])
    lookahead = Lookahead(net)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=HYP["label_smoothing"], reduction="none")
    padded = F.pad(batch_flip_lr(x_train), (2,) * 4, "reflect")

    step, train_seconds = 0, 0.0
    for epoch in range(ceil(epochs)):
        net[0].bias.requires_grad = epoch < HYP["whiten_bias_epochs"]
        start = time.perf_counter()
        images = batch_crop(padded, 32)
        if epoch % 2 == 1:
            images = images.flip(-1)  # alternating flip
        order = torch.randperm(len(images))
        for i in range(steps_per_epoch):
            idx = order[i * bs : (i + 1) * bs]
            batch = images[idx].contiguous(memory_format=torch.channels_last)
            loss = loss_fn(net(batch), y_train[idx]).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 5 == 0:
                lookahead.update(net, decay=alpha[step].item())
            if step >= total:
                lookahead.update(net, decay=1.0)
                break
        train_seconds += time.perf_counter() - start
        accuracy = (infer(net, x_test, False).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch + 1}  test {accuracy:.4f}  {train_seconds:.0f}s", flush=True)
    accuracy = (infer(net, x_test, True).argmax(1) == y_test).float().mean().item()
    print(f"final test accuracy with TTA {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 9.9)
