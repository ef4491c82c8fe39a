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
  KL(P||Q) (Keras kld: batch mean) against a fixed P (the bench's), SGD(0.01,
  momentum 0.9), batches in order

The data set lives on the device as uint8 (as latent's datasets do); an epoch
of `steps` batches walks the first steps x 256 images, shuffled (in order for
DEC), scales each batch to [0, 1] and trains. The loss is summed on the device
and read once per epoch, as latent's fit() does.

Two modes:

    python3 bench/pytorch_ae.py [--tiny] [--steps N] [--reps N] [--threads N] [--json FILE]

times every case by itself (warm-up steps, then the median of `reps` epochs)
and prints a table, on CUDA where there is one;

    python3 bench/pytorch_ae.py --serve --threads N --data FILE

is how `deno task bench --filter train` runs PyTorch beside latent, on the CPU:
it loads FILE (raw u8 images, 784 bytes each), prints one JSON line
(`torch`, `threads`, `blas_threads`, `omp_wait_policy`, `images`), then answers each request line
`{"case": NAME, "steps": S}` with `{"ms": ..., "loss": ...}` after training one
epoch of S batches of that case (a new model when the case changes). The bench
chooses the warm-up and the interleaving.

`--threads N` bounds both of PyTorch's CPU thread pools: its own (OpenMP,
`torch.set_num_threads`, which oneDNN uses) and the BLAS library's, which
Debian's torch calls for matmuls and which `torch.set_num_threads` leaves
alone (OpenBLAS ran 256x784 by 784x2000 on two cores "at one thread": 285
GFLOP/s and 2.0 CPU-seconds per second, against 151 and 1.0 with
OPENBLAS_NUM_THREADS=1). It also makes OpenMP's threads wait passively
(`OMP_WAIT_POLICY=PASSIVE`, unless set): spinning, they took the cores
OpenBLAS's threads needed, and 2 threads on 2 cores trained the deep AE 4x
slower than 1 (4 steps: 95 against 23 ms; passive: 22 ms; the DEC AE, 2
steps: 371/178 against 122 ms at 1 thread; passive: 87 ms). Both counts and
the policy are printed. On Debian, install
`python3-torch` with `libopenblas0-pthread`: without an optimised BLAS,
torch's CPU matmul runs at a few GFLOP/s.

Exits 0 with a message when PyTorch is not installed (--serve prints
`{"error": ...}` instead).
"""
import argparse
import json
import os
import statistics
import sys
import time

BATCH = 256
CLUSTERS = 10
DEC_UNITS = [784, 500, 500, 2000, 10]
CASES = [
    "deep AE 784-128-32-128-784",
    "DEC AE 784-500-500-2000-10 (+mirror)",
    "conv AE 28x28 (16c3-pool-16c3-up-1c3)",
    "DEC step (encoder + clustering, KL, SGD)",
]


def blas_threads():
    """OpenBLAS's thread count, if the process loaded OpenBLAS (else None)."""
    try:
        with open("/proc/self/maps") as f:
            if "libopenblas" not in f.read():
                return None
        import ctypes
        return ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


def targets(torch, n):
    """The bench's fixed target distribution P [n, 10] (train_bench.ts `targets`)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(CLUSTERS)[None]
    p = 0.05 + ((i * 7 + j * 13) % 17).float() / 17
    return p / p.sum(1, keepdim=True)


def build(torch, label):
    """The model of case `label`: (module, input shape, loss name, optimizer)."""
    from torch import nn

    def dense(units, out_act):
        layers = []
        for i, (a, b) in enumerate(zip(units, units[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(units) - 2:
                layers.append(nn.ReLU())
            elif out_act is not None:
                layers.append(out_act)
        return nn.Sequential(*layers)

    class DecStep(nn.Module):
        def __init__(self, alpha=1.0):
            super().__init__()
            self.enc = dense(DEC_UNITS, None)
            self.mu = nn.Parameter(torch.empty(CLUSTERS, DEC_UNITS[-1]))
            nn.init.xavier_uniform_(self.mu)
            self.alpha = alpha

        def forward(self, x):
            z = self.enc(x)
            d2 = ((z[:, None, :] - self.mu[None]) ** 2).sum(2)
            q = (1.0 + d2 / self.alpha) ** (-(self.alpha + 1) / 2)
            return q / q.sum(1, keepdim=True)

    if label == CASES[0]:
        model, shape, loss = dense([784, 128, 32, 128, 784], nn.Sigmoid()), [784], "bce"
    elif label == CASES[1]:
        model = nn.Sequential(dense(DEC_UNITS, None), dense(DEC_UNITS[::-1], None))
        shape, loss = [784], "mse"
    elif label == CASES[2]:
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid())
        shape, loss = [1, 28, 28], "bce"
    elif label == CASES[3]:
        model, shape, loss = DecStep(), [784], "kld"
    else:
        raise ValueError(f"unknown case {label!r}; expected one of {CASES}")
    return model, shape, loss


class Trainer:
    """One case's model and optimizer; `epoch(steps)` trains on the first steps x 256 images."""

    def __init__(self, torch, label, pixels, dev):
        import torch.nn.functional as F
        self.torch, self.F, self.pixels, self.dev = torch, F, pixels, dev
        torch.manual_seed(1)
        model, self.shape, self.loss = build(torch, label)
        self.model = model.to(dev)
        self.opt = (torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
                    if self.loss == "kld" else torch.optim.Adam(self.model.parameters(), lr=1e-3))
        self.p = targets(torch, pixels.shape[0]).to(dev) if self.loss == "kld" else None
        self.total = torch.zeros((), device=dev)

    def epoch(self, steps):
        torch, F = self.torch, self.F
        n = steps * BATCH
        if n > self.pixels.shape[0]:
            raise ValueError(f"{steps} steps need {n} images; the data has {self.pixels.shape[0]}")
        order = (torch.arange(n, device=self.dev) if self.loss == "kld"
                 else torch.randperm(n, device=self.dev))
        for s in range(steps):
            idx = order[s * BATCH:(s + 1) * BATCH]
            xb = self.pixels[idx].float().div_(255).view(-1, *self.shape)
            out = self.model(xb)
            if self.loss == "bce":
                loss = F.binary_cross_entropy(out, xb)
            elif self.loss == "mse":
                loss = F.mse_loss(out, xb)
            else:
                # Keras kld: sum_j p log(p / q), mean over the batch.
                p = self.p[idx]
                loss = (p * (torch.log(p.clamp_min(1e-7)) - torch.log(out.clamp_min(1e-7)))
                        ).sum(1).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.total += loss.detach() * BATCH
        return float(self.total)  # one readback per epoch, as fit() does


def serve(torch, args):
    """Answers epoch requests on stdin, one JSON line each (see the module docstring)."""
    if not args.data:
        print(json.dumps({"error": "--serve needs --data FILE"}), flush=True)
        return 2
    with open(args.data, "rb") as f:
        raw = bytearray(f.read())
    n = len(raw) // 784
    pixels = torch.frombuffer(raw, dtype=torch.uint8)[:n * 784].view(n, 784)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "blas_threads": blas_threads(),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "images": n}),
          flush=True)
    trainer, current = None, None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req["case"] != current:
                trainer, current = None, None
                trainer, current = Trainer(torch, req["case"], pixels, "cpu"), req["case"]
            t0 = time.perf_counter()
            loss = trainer.epoch(int(req["steps"]))
            reply = {"ms": (time.perf_counter() - t0) * 1000, "loss": loss}
        except Exception as e:  # noqa: BLE001 -- the bench shows the message in its note
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="a few steps (smoke test)")
    ap.add_argument("--steps", type=int, default=None, help="steps per timed epoch")
    ap.add_argument("--reps", type=int, default=None, help="timed epochs (median)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads of PyTorch and of its BLAS (default: their own choice)")
    ap.add_argument("--serve", action="store_true",
                    help="answer epoch requests on stdin (the bench's mode)")
    ap.add_argument("--data", default=None, help="raw u8 images, 784 bytes each (--serve)")
    args = ap.parse_args()
    if args.threads:
        # Read by OpenMP and the BLAS libraries when they load, so set before importing torch.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        # OpenMP's threads otherwise spin after each parallel region, on the cores that
        # OpenBLAS's threads then need: see the module docstring.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        if args.serve:
            print(json.dumps({"error": f"PyTorch is not installed for {sys.executable}"}),
                  flush=True)
        else:
            print("pytorch_ae: PyTorch is not installed here: skipping the PyTorch reference "
                  "(the GPU machine ships it)")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.serve:
        return serve(torch, args)

    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    threads = torch.get_num_threads()
    blas = blas_threads()
    name = torch.cuda.get_device_name() if cuda else f"CPU, {threads} thread(s)"
    print(f"pytorch_ae: torch {torch.__version__}, device {name}, fp32 eager, batch {BATCH}, "
          f"{threads} CPU thread(s), BLAS threads {blas if blas is not None else 'unknown'}, "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    steps = args.steps or (2 if args.tiny else (64 if cuda else 4))
    reps = args.reps or (2 if args.tiny else 5)
    warmup = 2 if args.tiny else 20

    g = torch.Generator(device="cpu").manual_seed(1)
    pixels = torch.randint(0, 256, (max(steps, warmup) * BATCH, 784), dtype=torch.uint8,
                           generator=g).to(dev)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    rows = []
    for label in CASES:
        trainer = Trainer(torch, label, pixels, dev)
        trainer.epoch(warmup)
        sync()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            trainer.epoch(steps)
            sync()
            times.append(time.perf_counter() - t0)
        ms = statistics.median(times) * 1000
        rate = steps * BATCH / (ms / 1000)
        rows.append({"name": label, "samples_per_s": rate, "ms_per_step": ms / steps,
                     "steps": steps, "reps": reps})
        print(f"pytorch_ae: {label}: {rate:.0f} samples/s ({ms / steps:.2f} ms/step, "
              f"{steps} steps x {reps})", flush=True)
        del trainer

    print(f"\nPyTorch {torch.__version__} on {name} (fp32, eager, TF32 off, batch {BATCH})\n")
    print("| case | samples/s | ms/step |")
    print("| --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['name']} | {r['samples_per_s']:.0f} | {r['ms_per_step']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "batch": BATCH,
                       "threads": threads, "blas_threads": blas, "rows": rows},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
