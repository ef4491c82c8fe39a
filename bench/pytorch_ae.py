#!/usr/bin/env python3
"""PyTorch reference for bench/train_bench.ts: training samples/s at batch 256.

The same models, shapes, losses and optimizers as the bench's training rows,
in PyTorch eager mode, fp32 (TF32 off for matmuls and cuDNN convolutions):

- deep AE 784-128-32-128-784 (ReLU inside, sigmoid out), BCE, Adam(1e-3)
- DEC AE 784-500-500-2000-10 + mirror (ReLU inside, linear code and output),
  MSE, Adam(1e-3)
- conv AE Conv 16 3x3 same ReLU, MaxPool 2, Conv 16 3x3 same ReLU,
  Upsample 2 (nearest), Conv 1 3x3 same sigmoid; BCE, Adam(1e-3)
- DEC step: the DEC encoder, Student-t soft assignment to 10 centres,
  KL(P||Q) (Keras kld: batch mean) against a fixed P, SGD(0.01, momentum 0.9),
  batches in order

The data set lives on the GPU as uint8 (as latent's datasets do); a step
gathers a shuffled batch, scales it to [0, 1] and trains. The loss is summed
on the GPU and read once per epoch, as latent's fit() does. After warm-up
steps, epochs of `steps` batches are timed between CUDA synchronisations;
the median of `reps` epochs is reported.

    python3 bench/pytorch_ae.py [--tiny] [--steps N] [--reps N] [--threads N] [--json FILE]

It prints the CPU thread count it ran with (`--threads` sets it). On Debian,
install `python3-torch` with `libopenblas0-pthread`: without an optimised
BLAS, torch's CPU matmul runs at a few GFLOP/s (measured 5.6 against 192
GFLOP/s with OpenBLAS, one thread, 256x784 by 784x500).

Exits 0 with a message when PyTorch is not installed (the GPU machine has it).
"""
import argparse
import json
import statistics
import sys
import time

BATCH = 256


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="a few steps (smoke test)")
    ap.add_argument("--steps", type=int, default=None, help="steps per timed epoch")
    ap.add_argument("--reps", type=int, default=None, help="timed epochs (median)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (torch.set_num_threads; default: PyTorch's own choice)")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("pytorch_ae: PyTorch is not installed here: skipping the PyTorch reference "
              "(the GPU machine ships it)")
        return 0
    from torch import nn
    import torch.nn.functional as F

    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(1)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name() if cuda else f"CPU, {threads} thread(s)"
    print(f"pytorch_ae: torch {torch.__version__}, device {name}, fp32 eager, batch {BATCH}, "
          f"{threads} CPU thread(s)")
    steps = args.steps or (2 if args.tiny else (64 if cuda else 4))
    reps = args.reps or (2 if args.tiny else 5)
    warmup = 2 if args.tiny else 20

    def dense(units, out_act):
        layers = []
        for i, (a, b) in enumerate(zip(units, units[1:])):
            layers.append(nn.Linear(a, b))
            last = i == len(units) - 2
            if not last:
                layers.append(nn.ReLU())
            elif out_act is not None:
                layers.append(out_act)
        return nn.Sequential(*layers)

    dec_units = [784, 500, 500, 2000, 10]

    class DecAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = dense(dec_units, None)
            self.dec = dense(dec_units[::-1], None)

        def forward(self, x):
            return self.dec(self.enc(x))

    class DecStep(nn.Module):
        def __init__(self, k=10, alpha=1.0):
            super().__init__()
            self.enc = dense(dec_units, None)
            self.mu = nn.Parameter(torch.empty(k, dec_units[-1]))
            nn.init.xavier_uniform_(self.mu)
            self.alpha = alpha

        def forward(self, x):
            z = self.enc(x)
            d2 = ((z[:, None, :] - self.mu[None]) ** 2).sum(2)
            q = (1.0 + d2 / self.alpha) ** (-(self.alpha + 1) / 2)
            return q / q.sum(1, keepdim=True)

    conv_ae = lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid())

    def kld(q, p):
        # Keras kld: sum_j p log(p / q), mean over the batch.
        return (p * (torch.log(p.clamp_min(1e-7)) - torch.log(q.clamp_min(1e-7)))).sum(1).mean()

    cases = [
        ("deep AE 784-128-32-128-784", lambda: dense([784, 128, 32, 128, 784], nn.Sigmoid()),
         [784], "bce", "adam"),
        ("DEC AE 784-500-500-2000-10 (+mirror)", DecAE, [784], "mse", "adam"),
        ("conv AE 28x28 (16c3-pool-16c3-up-1c3)", conv_ae, [1, 28, 28], "bce", "adam"),
        ("DEC step (encoder + clustering, KL, SGD)", DecStep, [784], "kld", "sgd"),
    ]

    n = steps * BATCH
    g = torch.Generator(device="cpu").manual_seed(1)
    pixels = torch.randint(0, 256, (n, 784), dtype=torch.uint8, generator=g).to(dev)
    p = torch.rand(n, 10, generator=g).add_(0.05)
    p = (p / p.sum(1, keepdim=True)).to(dev)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    rows = []
    for label, build, shape, loss_name, opt_name in cases:
        model = build().to(dev)
        opt = (torch.optim.Adam(model.parameters(), lr=1e-3) if opt_name == "adam"
               else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
        total = torch.zeros((), device=dev)

        def epoch(count):
            nonlocal total
            order = (torch.arange(n, device=dev) if loss_name == "kld"
                     else torch.randperm(n, device=dev))
            for s in range(count):
                idx = order[(s * BATCH) % n:(s * BATCH) % n + BATCH]
                xb = pixels[idx].float().div_(255).view(-1, *shape)
                out = model(xb)
                if loss_name == "bce":
                    loss = F.binary_cross_entropy(out, xb)
                elif loss_name == "mse":
                    loss = F.mse_loss(out, xb)
                else:
                    loss = kld(out, p[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * BATCH
            return float(total)  # one readback per epoch, as fit() does

        epoch(warmup)
        sync()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            epoch(steps)
            sync()
            times.append(time.perf_counter() - t0)
        ms = statistics.median(times) * 1000
        rate = steps * BATCH / (ms / 1000)
        rows.append({"name": label, "samples_per_s": rate, "ms_per_step": ms / steps,
                     "steps": steps, "reps": reps})
        print(f"pytorch_ae: {label}: {rate:.0f} samples/s ({ms / steps:.2f} ms/step, "
              f"{steps} steps x {reps})", flush=True)
        del model, opt

    print(f"\nPyTorch {torch.__version__} on {name} (fp32, eager, TF32 off, batch {BATCH})\n")
    print("| case | samples/s | ms/step |")
    print("| --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['name']} | {r['samples_per_s']:.0f} | {r['ms_per_step']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "batch": BATCH,
                       "threads": threads, "rows": rows},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
