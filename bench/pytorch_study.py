#!/usr/bin/env python3
"""PyTorch reference for latent's MNIST clustering study (demos/mnist_dec.ts).

The same pipeline, recipe and images as the study, in PyTorch eager mode on
the CPU, fp32:

1. k-means on the pixels (scikit-learn's algorithm: greedy k-means++ seeding,
   Lloyd until the centre shift is below tol * mean feature variance, best
   of n_init restarts by inertia),
2. autoencoder 784-500-500-2000-10 + mirror (ReLU inside, linear code and
   output, VarianceScaling(1/3, fan_in, uniform) weights, zero biases), MSE,
   pretrained with Adam(1e-3, eps 1e-7) or SGD(1, 0.9), shuffled batches,
   optionally with Gaussian input noise (denoising); then k-means on the codes,
3. DEC: Student-t soft assignment (alpha 1) to centres initialised by that
   k-means, KL(P || Q) (batch mean), SGD(0.01, 0.9), batches in order, P
   refreshed over all samples every `update_interval` steps, stop when fewer
   than tol of the labels changed between refreshes or after max_iter steps,
4. IDEC: the same from the same pretrained weights, loss MSE + gamma * KL.

ACC (Hungarian matching), NMI (arithmetic normalisation) and ARI are
computed as scikit-learn does. The images come from a file latent writes
(`deno task bench:study` does), so both sides see the same subset:
n * 784 bytes of pixels followed by n little-endian int32 labels.

    /usr/bin/python3 bench/pytorch_study.py --data FILE [--seeds 1,2,3]
        [--threads 1] [--epochs 50] [--batch 256] [--noise 0] [--lr 1e-3]
        [--optimizer adam|sgd] [--maxiter 2000] [--update-interval 40]
        [--tol 0.001] [--n-init 10] [--json FILE]

Prints its thread count, one line per stage and seed, and the medians.
Exits 0 with a message when PyTorch is not installed.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time


def hungarian(cost):
    """Minimum-cost assignment of a square matrix (list of lists): row -> column."""
    n = len(cost)
    inf = float("inf")
    u, v = [0.0] * (n + 1), [0.0] * (n + 1)
    p, way = [0] * (n + 1), [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv, used = [inf] * (n + 1), [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    match = [0] * n
    for j in range(1, n + 1):
        match[p[j] - 1] = j - 1
    return match


def contingency(y, pred):
    ky, kp = int(y.max()) + 1, int(pred.max()) + 1
    import torch
    c = torch.zeros(ky * kp, dtype=torch.float64)
    c.index_add_(0, (y * kp + pred).long(), torch.ones(len(y), dtype=torch.float64))
    return c.view(ky, kp)


def scores(y, pred):
    """ACC, NMI, ARI of predicted labels against true ones (1-D int tensors)."""
    c = contingency(y, pred)
    n = c.sum().item()
    k = max(c.shape)
    sq = [[0.0] * k for _ in range(k)]
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            sq[j][i] = -c[i, j].item()  # predicted cluster j -> true label i
    match = hungarian(sq)
    acc = -sum(sq[j][match[j]] for j in range(k)) / n
    a, b = c.sum(1), c.sum(0)

    def entropy(t):
        t = t[t > 0] / n
        return -(t * t.log()).sum().item()

    nz = c > 0
    mi = (c[nz] / n * (c[nz] * n / (a.view(-1, 1) * b.view(1, -1))[nz]).log()).sum().item()
    ha, hb = entropy(a), entropy(b)
    nmi = 0.0 if ha + hb == 0 else mi / ((ha + hb) / 2)
    comb = lambda t: (t * (t - 1) / 2).sum().item()
    sij, sa, sb = comb(c), comb(a), comb(b)
    expected = sa * sb / (n * (n - 1) / 2)
    mx = (sa + sb) / 2
    ari = 1.0 if mx == expected else (sij - expected) / (mx - expected)
    return acc, nmi, ari


def kmeans(x, k, n_init, gen, max_iter=300, tol=1e-4):
    """scikit-learn's k-means (greedy k-means++, Lloyd); returns (labels, centres)."""
    import torch
    n = x.shape[0]
    xx = (x * x).sum(1)
    scaled_tol = tol * x.var(0, unbiased=False).mean().item()
    best = None
    trials = 2 + int(math.log(k))
    for _ in range(n_init):
        first = torch.randint(n, (1,), generator=gen).item()
        centres = [x[first]]
        d2 = (xx - 2 * x @ x[first] + xx[first]).clamp_min(0)
        for _c in range(1, k):
            pot = d2.sum().item()
            r = torch.rand(trials, generator=gen, dtype=torch.float64) * pot
            cand = torch.searchsorted(d2.double().cumsum(0), r).clamp_max(n - 1)
            dc = (xx.view(1, -1) - 2 * x[cand] @ x.T + xx[cand].view(-1, 1)).clamp_min(0)
            dc = torch.minimum(dc, d2.view(1, -1))
            pick = dc.sum(1).argmin().item()
            centres.append(x[cand[pick]])
            d2 = dc[pick]
        c = torch.stack(centres)
        for _it in range(max_iter):
            d = xx.view(-1, 1) - 2 * x @ c.T + (c * c).sum(1).view(1, -1)
            labels = d.argmin(1)
            sums = torch.zeros_like(c).index_add_(0, labels, x)
            counts = torch.bincount(labels, minlength=k).to(x.dtype).view(-1, 1)
            new = torch.where(counts > 0, sums / counts.clamp_min(1), c)
            shift = ((new - c) ** 2).sum().item()
            c = new
            if shift <= scaled_tol:
                break
        d = xx.view(-1, 1) - 2 * x @ c.T + (c * c).sum(1).view(1, -1)
        labels = d.argmin(1)
        inertia = d.gather(1, labels.view(-1, 1)).clamp_min(0).sum().item()
        if best is None or inertia < best[0]:
            best = (inertia, labels, c)
    return best[1], best[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="images then labels, as latent writes them")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch", type=int, default=256, help="fine-tuning batch size")
    ap.add_argument("--pretrain-batch", type=int, default=None,
                    help="pretraining batch size (default: --batch)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--noise", type=float, default=0.0, help="Gaussian input noise std (pretraining)")
    ap.add_argument("--maxiter", type=int, default=2000)
    ap.add_argument("--update-interval", type=int, default=40)
    ap.add_argument("--tol", type=float, default=0.001)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--dec-lr", type=float, default=0.01, help="DEC fine-tuning SGD learning rate")
    ap.add_argument("--dec-momentum", type=float, default=0.9)
    ap.add_argument("--idec-lr", type=float, default=0.01, help="IDEC fine-tuning SGD learning rate")
    ap.add_argument("--idec-momentum", type=float, default=0.9)
    ap.add_argument("--pretrained", default=None,
                    help="keep the pretrained autoencoder in FILE.<seed>.pt: load it when it "
                         "exists (skipping pretraining), else save it (for sweeps of the fine-tuning)")
    ap.add_argument("--stages", default="kmeans,ae,dec,idec")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    # torch.set_num_threads does not bound OpenBLAS, which ran the products on
    # every core before this (see bench/pytorch_ae.py): bound both, before torch loads.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        print("pytorch_study: PyTorch is not installed here (Debian: apt-get install python3-torch)")
        return 0
    from torch import nn

    torch.set_num_threads(args.threads)
    with open(args.data, "rb") as f:
        raw = f.read()
    n = len(raw) // (784 + 4)
    if n * (784 + 4) != len(raw) or n < 10:
        print(f"pytorch_study: {args.data} is not n*784 pixel bytes + n int32 labels", file=sys.stderr)
        return 2
    x = torch.frombuffer(bytearray(raw[: n * 784]), dtype=torch.uint8).view(n, 784).float() / 255
    y = torch.frombuffer(bytearray(raw[n * 784:]), dtype=torch.int32).long()
    stages = set(args.stages.split(","))
    pbatch = args.pretrain_batch or args.batch
    print(f"PyTorch {torch.__version__} reference, {torch.get_num_threads()} thread(s), "
          f"{n} images; pretrain {args.epochs} epochs {args.optimizer} lr {args.lr} batch "
          f"{pbatch} noise {args.noise}; fine-tuning batch {args.batch}; DEC max {args.maxiter} steps, interval "
          f"{args.update_interval}, tol {args.tol}; k-means n_init {args.n_init}", flush=True)

    def layers(dims):
        out = []
        for i in range(len(dims) - 1):
            lin = nn.Linear(dims[i], dims[i + 1])
            lim = math.sqrt(1 / dims[i])  # VarianceScaling(1/3, fan_in, uniform)
            nn.init.uniform_(lin.weight, -lim, lim)
            nn.init.zeros_(lin.bias)
            out.append(lin)
            if i < len(dims) - 2:
                out.append(nn.ReLU())
        return nn.Sequential(*out)

    def soft_assign(z, mu):
        q = 1.0 / (1.0 + ((z.unsqueeze(1) - mu.unsqueeze(0)) ** 2).sum(2))
        return q / q.sum(1, keepdim=True)

    def target(q):
        w = q ** 2 / q.sum(0)
        return (w.t() / w.sum(1)).t()

    def embed(enc):
        with torch.no_grad():
            return torch.cat([enc(x[i:i + 1024]) for i in range(0, n, 1024)])

    def finetune(enc, dec, mu0, idec, gen):
        mu = nn.Parameter(mu0.clone())
        params = list(enc.parameters()) + [mu] + (list(dec.parameters()) if idec else [])
        opt = (torch.optim.SGD(params, lr=args.idec_lr, momentum=args.idec_momentum) if idec
               else torch.optim.SGD(params, lr=args.dec_lr, momentum=args.dec_momentum))
        last, steps, p, offset = None, 0, None, 0
        while True:
            if steps % args.update_interval == 0:
                with torch.no_grad():
                    q = soft_assign(embed(enc), mu)
                p = target(q)
                pred = q.argmax(1)
                if last is not None:
                    delta = (pred != last).float().mean().item()
                    if delta < args.tol:
                        break
                last = pred
            if steps >= args.maxiter:
                break
            size = min(args.batch, n - offset)
            xb, pb = x[offset:offset + size], p[offset:offset + size]
            offset = 0 if offset + size >= n else offset + size
            z = enc(xb)
            q = soft_assign(z, mu)
            loss = (pb * (pb.log() - q.log())).sum(1).mean()
            if idec:
                loss = nn.functional.mse_loss(dec(z), xb) + args.gamma * loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        with torch.no_grad():
            return soft_assign(embed(enc), mu).argmax(1), steps

    rows = []

    def record(seed, stage, pred, t0):
        acc, nmi, ari = scores(y, pred)
        row = {"seed": seed, "stage": stage, "acc": acc, "nmi": nmi, "ari": ari,
               "seconds": time.perf_counter() - t0}
        rows.append(row)
        print(f"  seed {seed} {stage:22s} ACC {acc:.4f}  NMI {nmi:.4f}  ARI {ari:.4f}  "
              f"({row['seconds']:.1f} s)", flush=True)

    for seed in [int(s) for s in args.seeds.split(",")]:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        if "kmeans" in stages:
            t0 = time.perf_counter()
            labels, _ = kmeans(x, 10, args.n_init, gen)
            record(seed, "k-means (pixels)", labels, t0)
        if not stages & {"ae", "dec", "idec"}:
            continue
        t0 = time.perf_counter()
        enc, dec = layers([784, 500, 500, 2000, 10]), layers([10, 2000, 500, 500, 784])
        ae = nn.Sequential(enc, dec)
        opt = (torch.optim.Adam(ae.parameters(), lr=args.lr, eps=1e-7) if args.optimizer == "adam"
               else torch.optim.SGD(ae.parameters(), lr=args.lr, momentum=0.9))
        saved = f"{args.pretrained}.{seed}.pt" if args.pretrained else None
        if saved and os.path.exists(saved):
            ae.load_state_dict(torch.load(saved))
        for _epoch in range(0 if saved and os.path.exists(saved) else args.epochs):
            perm = torch.randperm(n)
            for i in range(0, n, pbatch):
                xb = x[perm[i:i + pbatch]]
                xin = xb + args.noise * torch.randn_like(xb) if args.noise > 0 else xb
                loss = nn.functional.mse_loss(ae(xin), xb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        pretrained = {k: v.clone() for k, v in ae.state_dict().items()}
        if saved and not os.path.exists(saved):
            torch.save(pretrained, saved)
        km, centres = kmeans(embed(enc), 10, args.n_init, gen)
        record(seed, "autoencoder + k-means", km, t0)
        for variant in ["dec", "idec"]:
            if variant not in stages:
                continue
            t0 = time.perf_counter()
            # The same pretrained weights and k-means centres (latent's IDEC
            # re-runs k-means with the same seed on the same codes: the same centres).
            ae.load_state_dict(pretrained)
            pred, steps = finetune(enc, dec, centres, variant == "idec", gen)
            record(seed, f"{variant.upper()} ({steps} steps)", pred, t0)

    # Stages in first-seen order, without their step counts ("DEC (300 steps)" -> "DEC").
    stage = lambda r: re.sub(r" \(\d+ steps\)$", "", r["stage"])
    names = list(dict.fromkeys(stage(r) for r in rows))
    if len(args.seeds.split(",")) > 1:
        for s in names:
            rs = [r for r in rows if stage(r) == s]
            print(f"  median {s:22s} ACC {statistics.median(r['acc'] for r in rs):.4f}  "
                  f"NMI {statistics.median(r['nmi'] for r in rs):.4f}  "
                  f"ARI {statistics.median(r['ari'] for r in rs):.4f}  "
                  f"({statistics.median(r['seconds'] for r in rs):.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "torch": torch.__version__,
                       "n": n, "args": vars(args), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
