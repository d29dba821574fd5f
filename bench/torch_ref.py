#!/usr/bin/env python3
"""PyTorch reference of latentlab's models, for side-by-side timing (run by bench/compare.py).

Same architecture, loss, optimiser, batch size and thread count as latentlab; data read from the same
IDX files into one in-memory tensor and batched by index, as latentlab does (no DataLoader overhead).
Prints one JSON line per epoch: {"epoch", "seconds", "images_per_s", "train_loss", "test_loss"}.
The DCGAN can also write its samples after chosen epochs (--samples-at), for `latentlab classifier
score` (bench/dcgan_quality.py).
"""
import argparse, copy, json, os, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


from idx import find, read_idx


class VAE(nn.Module):
    """The seeds' VAE: 784-400-(20, 20), 20-400-784; one linear for both heads (same as two)."""
    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 2 * latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def loss(self, x):
        x = x.view(x.size(0), -1)
        mu, logvar = self.fc2(F.relu(self.fc1(x))).chunk(2, 1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.fc4(F.relu(self.fc3(z)))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction='sum') / x.size(0)
        kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar - 1) / x.size(0)
        return recon + kl


class ConvVAE(nn.Module):
    """latentlab's vae --arch conv at 28x28: two 4x4 stride-2 convolutions (32, 64) and a linear to
    (mu, logvar); a linear to 64x7x7 and two 4x4 stride-2 transposed convolutions back; BCE + KL."""
    def __init__(self, latent=20):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(64 * 7 * 7, 2 * latent))
        self.fc = nn.Linear(latent, 64 * 7 * 7)
        self.dec = nn.Sequential(nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def loss(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.dec(F.relu(self.fc(z)).view(-1, 64, 7, 7))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction='sum') / x.size(0)
        kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar - 1) / x.size(0)
        return recon + kl


class AE(nn.Module):
    """The seeds' AE: 784-256-64-20 with ReLU (code included), mirrored decoder, sigmoid, MSE (mean)."""
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU(),
                                     nn.Linear(64, 20), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 256), nn.ReLU(),
                                     nn.Linear(256, 784), nn.Sigmoid())

    def loss(self, x):
        x = x.view(x.size(0), -1)
        return F.mse_loss(self.decoder(self.encoder(x)), x)


class DCGAN(nn.Module):
    """latentlab's dcgan at 28x28 (the LibTorch cpp/dcgan networks, nz 100, ngf = ndf = 64), DCGAN init,
    BCE from logits, two Adam optimisers (lr 2e-4, beta1 0.5); the generator step reuses the fakes of the
    discriminator step, as latentlab does with d_every = g_every = 1."""
    def __init__(self, nz=100, ngf=64, ndf=64, init='dcgan'):
        super().__init__()
        self.nz = nz
        self.g = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())
        self.d = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 4, 1, 3, 1, 0, bias=False))
        for m in self.modules():
            if init != 'dcgan':  # PyTorch's own initialisation, as the layers come
                break
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def optimizers(self, lr):
        return [torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.999)),
                torch.optim.Adam(self.g.parameters(), lr=lr, betas=(0.5, 0.999))]

    def train_step(self, x, opts):
        opt_d, opt_g = opts
        x = x * 2 - 1
        b = x.size(0)
        opt_d.zero_grad()
        real = self.d(x).view(-1)
        fake = self.g(torch.randn(b, self.nz, 1, 1, device=x.device))
        out = self.d(fake.detach()).view(-1)
        loss_d = F.softplus(-real).mean() + F.softplus(out).mean()
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = F.softplus(-self.d(fake).view(-1)).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach() + loss_g.detach()

    def samples(self, n, seed, mode):
        """n images in [0, 1] from a copy of G (so that train-mode batch norm leaves G's running
        statistics alone): mode 'train' normalises each batch of 256 by its own statistics, as
        pytorch/examples' DCGAN draws its pictures (it never calls eval()); 'eval' uses the running ones."""
        g = copy.deepcopy(self.g)
        g.train(mode == 'train')
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            out = [g(torch.randn(min(256, n - i), self.nz, 1, 1, generator=gen)).add(1).div(2)
                   for i in range(0, n, 256)]
        return torch.cat(out).clamp(0, 1).numpy().astype(np.float32)

    def loss(self, x):
        x = x * 2 - 1
        real = self.d(x).view(-1)
        fake = self.d(self.g(torch.randn(x.size(0), self.nz, 1, 1, device=x.device))).view(-1)
        return F.softplus(-real).mean() + F.softplus(fake).mean()


MODELS = {'vae': VAE, 'ae': AE, 'dcgan': DCGAN, 'vae-conv': ConvVAE}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='vae', choices=MODELS)
    ap.add_argument('--data-dir', required=True)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--train-images', type=int, default=0, help='use the first N training images (0: all)')
    ap.add_argument('--device', default='cpu', help='cpu | cuda')
    ap.add_argument('--ngf', type=int, default=64, help='dcgan: width of G')
    ap.add_argument('--ndf', type=int, default=64, help='dcgan: width of D')
    ap.add_argument('--init', default='dcgan', choices=['dcgan', 'default'],
                    help="dcgan: N(0, 0.02) weights (the DCGAN paper's) or PyTorch's default initialisation")
    ap.add_argument('--samples-at', default='', help='dcgan: after these epochs (1,2,5) write samples')
    ap.add_argument('--samples-out', default='samples', help='dcgan: samples go to <this>-epoch<E>.npy')
    ap.add_argument('--samples', type=int, default=10000, help='dcgan: how many samples')
    ap.add_argument('--sample-mode', default='train', choices=['train', 'eval'],
                    help="dcgan: batch norm of the sampling G: the batch's statistics (train, pytorch/examples') or the running ones")
    a = ap.parse_args()
    sample_epochs = {int(e) for e in a.samples_at.split(',') if e}
    if sample_epochs and a.model != 'dcgan':
        ap.error('--samples-at is for --model dcgan')
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train = torch.from_numpy(read_idx(find(a.data_dir, 'train-images-idx3-ubyte')).copy()).unsqueeze(1)
    test = torch.from_numpy(read_idx(find(a.data_dir, 't10k-images-idx3-ubyte')).copy()).unsqueeze(1)
    if a.train_images:
        train = train[:a.train_images]
    # the images live on the device, as latentlab keeps its dataset there
    train, test = train.to(dev), test.to(dev)
    model = (DCGAN(ngf=a.ngf, ndf=a.ndf, init=a.init) if a.model == 'dcgan' else MODELS[a.model]()).to(dev)
    opts = model.optimizers(a.lr) if hasattr(model, 'optimizers') else [torch.optim.Adam(model.parameters(), lr=a.lr)]
    n = train.size(0)
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for i in range(0, n, a.batch_size):
            x = train[perm[i:i + a.batch_size]].float().div_(255)
            if hasattr(model, 'train_step'):
                loss = model.train_step(x, opts)
            else:
                loss = model.loss(x)
                opts[0].zero_grad()
                loss.backward()
                opts[0].step()
            total += loss.detach() * x.size(0)
        sync()
        secs = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            tl = sum(model.loss(test[i:i + 1000].float().div_(255)).item() * min(1000, test.size(0) - i)
                     for i in range(0, test.size(0), 1000)) / test.size(0)
        print(json.dumps({'epoch': epoch, 'seconds': secs, 'images_per_s': n / secs,
                          'train_loss': total.item() / n, 'test_loss': tl}), flush=True)
        if epoch in sample_epochs:
            np.save(f'{a.samples_out}-epoch{epoch}.npy', model.cpu().samples(a.samples, a.seed + epoch, a.sample_mode))
            model.to(dev)


if __name__ == '__main__':
    main()
