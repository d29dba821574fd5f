#!/usr/bin/env python3
"""Decodes codes with a latentlab model in PyTorch, from the file `latentlab export` writes.

    latentlab export runs/vae -o vae.safetensors
    latentlab sample runs/vae -n 64 --seed 0 -o images.npy --codes codes.npy
    python3 examples/python/decode.py vae.safetensors codes.npy --compare images.npy -o decoded.npy

It rebuilds the decoder (the generator of a GAN) as torch.nn modules whose state_dict names are the
file's tensor names, loads the file with the safetensors package, decodes the codes into images in
[0, 1] and, with --compare, prints the largest absolute difference from latentlab's own images (exit
status 1 above --tolerance). Covers every model latentlab trains: vae, ae and aae (MLP or conv
decoder), gan (MLP generator) and dcgan.
"""
import argparse
import json
import sys

import numpy as np
import torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "none": nn.Identity,
}

# DCGAN generator layers (kernel, stride, padding, batch-norm + ReLU after) per image size, as
# src/nn/dcgan.cpp defines them.
DCGAN_G = {
    28: [(4, 1, 0, True), (3, 2, 1, True), (4, 2, 1, True), (4, 2, 1, False)],
    32: [(4, 1, 0, True), (4, 2, 1, True), (4, 2, 1, True), (4, 2, 1, False)],
    64: [(4, 1, 0, True), (4, 2, 1, True), (4, 2, 1, True), (4, 2, 1, True), (4, 2, 1, False)],
    96: [(4, 1, 0, True), (4, 2, 1, True), (4, 2, 1, True), (4, 2, 1, True), (5, 3, 1, False)],
}


class Mlp(nn.Module):
    """latentlab's Mlp: fc0 ... fcN with the activation between layers (none after the last)."""

    def __init__(self, sizes, activation):
        super().__init__()
        for i in range(len(sizes) - 1):
            self.add_module(f"fc{i}", nn.Linear(sizes[i], sizes[i + 1]))
        self.n = len(sizes) - 1
        self.act = ACTIVATIONS[activation]()

    def forward(self, x):
        h = x.flatten(1)
        for i in range(self.n):
            h = getattr(self, f"fc{i}")(h)
            if i + 1 < self.n:
                h = self.act(h)
        return h


class ConvDecoder(nn.Module):
    """latentlab's ConvDecoder: fc to the smallest feature map, then 4x4 stride-2 transposed convolutions."""

    def __init__(self, weights, prefix, activation):
        super().__init__()
        w = weights[prefix + "fc.weight"]
        self.fc = nn.Linear(w.shape[1], w.shape[0])
        self.count = sum(1 for k in weights if k.startswith(prefix + "deconv") and k.endswith(".weight"))
        for i in range(self.count):
            d = weights[f"{prefix}deconv{i}.weight"]
            self.add_module(f"deconv{i}", nn.ConvTranspose2d(d.shape[0], d.shape[1], 4, 2, 1,
                                                             bias=f"{prefix}deconv{i}.bias" in weights))
        self.channels0 = weights[f"{prefix}deconv0.weight"].shape[0]
        self.act = ACTIVATIONS[activation]()

    def forward(self, z):
        h = self.act(self.fc(z))
        side = int(round((h.shape[1] / self.channels0) ** 0.5))
        h = h.view(z.shape[0], self.channels0, side, side)
        for i in range(self.count):
            h = getattr(self, f"deconv{i}")(h)
            if i + 1 < self.count:
                h = self.act(h)
        return h


class ToMap(nn.Module):
    def forward(self, z):
        return z.view(z.shape[0], z.shape[1], 1, 1) if z.dim() == 2 else z


def dcgan_generator(weights, size):
    layers = [ToMap()]
    for kernel, stride, padding, hidden in DCGAN_G[size]:
        w = weights[f"generator.{len(layers)}.weight"]
        layers.append(nn.ConvTranspose2d(w.shape[0], w.shape[1], kernel, stride, padding,
                                         bias=f"generator.{len(layers)}.bias" in weights))
        if hidden:
            layers += [nn.BatchNorm2d(w.shape[1]), nn.ReLU(True)]
    return nn.Sequential(*layers)


def mlp_sizes(weights, prefix):
    n = sum(1 for k in weights if k.startswith(prefix + "fc") and k.endswith(".weight"))
    shapes = [weights[f"{prefix}fc{i}.weight"].shape for i in range(n)]
    return [shapes[0][1]] + [s[0] for s in shapes]


class Decoder(nn.Module):
    """Codes -> images in [0, 1], with the tensors of a latentlab export under their own names."""

    def __init__(self, weights, meta):
        super().__init__()
        self.config = json.loads(meta["config"])
        self.kind = meta["model"]
        self.shape = json.loads(meta["shape"])
        act = self.config.get("activation", "relu")
        if self.kind == "dcgan":
            self.generator = dcgan_generator(weights, self.shape[1])
        elif self.kind == "gan":
            # the MLP GAN's networks use leaky ReLU (0.2) whatever --activation says (src/models/gan.cpp)
            self.generator = nn.Sequential(Mlp(mlp_sizes(weights, "generator.0."), "leaky_relu"))
        elif "decoder.fc.weight" in weights:
            self.decoder = ConvDecoder(weights, "decoder.", act)
        else:
            self.decoder = Mlp(mlp_sizes(weights, "decoder."), act)

    def forward(self, z):
        c, h, w = self.shape
        if self.kind in ("gan", "dcgan"):
            return (torch.tanh(self.generator(z).reshape(z.shape[0], c, h, w)) + 1) * 0.5
        logits = self.decoder(z).reshape(z.shape[0], c, h, w)
        if self.kind == "vae" and self.config.get("output") == "tanh":
            return (torch.tanh(logits) + 1) * 0.5
        return torch.sigmoid(logits)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a file written by `latentlab export`")
    p.add_argument("codes", help=".npy codes, as `latentlab sample --codes` writes them")
    p.add_argument("--compare", help="latentlab's images of the same codes (.npy, `latentlab sample -o x.npy`)")
    p.add_argument("--tolerance", type=float, default=1e-5, help="largest absolute difference allowed [1e-5]")
    p.add_argument("-o", "--out", help="write the decoded images here (.npy float32 [n, C, H, W])")
    a = p.parse_args()
    with safe_open(a.model, framework="pt") as f:
        meta = f.metadata() or {}
    if "model" not in meta or "config" not in meta:
        sys.exit(f"{a.model}: not a file of `latentlab export` (its metadata names no model)")
    weights = load_file(a.model)
    decoder = Decoder(weights, meta)
    # every tensor of the generating half, and nothing else missing from it
    own = decoder.state_dict()
    missing = [k for k in own if k not in weights]
    if missing:
        sys.exit(f"{a.model}: lacks {missing[:3]} that the rebuilt {meta['model']} decoder has")
    decoder.load_state_dict({k: weights[k] for k in own})
    decoder.eval()
    torch.set_grad_enabled(False)
    z = torch.from_numpy(np.load(a.codes)).float()
    images = decoder(z).numpy()
    print(f"{meta['model']}: decoded {images.shape[0]} codes of shape {list(z.shape[1:])} into images {list(images.shape[1:])}")
    if a.out:
        np.save(a.out, images.astype(np.float32))
    if a.compare:
        ref = np.load(a.compare)
        if ref.shape != images.shape:
            sys.exit(f"--compare {a.compare}: shape {ref.shape}, but the decoded images are {images.shape}")
        diff = float(np.abs(ref - images).max())
        print(f"max abs difference from {a.compare}: {diff:.3g} (tolerance {a.tolerance:g})")
        if not diff <= a.tolerance:
            sys.exit(1)


if __name__ == "__main__":
    main()
