#!/usr/bin/env python3
"""Writes a folder of synthetic RGB PNG images for trying the image-folder path (DCGAN at 96x96).

There is no free RGB photo dataset among Debian's packages, so this builds one from Fashion-MNIST
(or MNIST): each item is upscaled to --size, tinted with a random colour and laid over a random
two-colour gradient background. Each class goes to its own sub-folder (folder labels).

    /usr/bin/python3 bench/make_rgb_folder.py --out data/rgb96 --count 5000 [--size 96]
"""
import argparse, os, struct, zlib
import numpy as np


from idx import find, read_idx


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b''.join(b'\x00' + rgb[y].tobytes() for y in range(h))
    def chunk(tag, body):
        return struct.pack('>I', len(body)) + tag + body + struct.pack('>I', zlib.crc32(tag + body) & 0xffffffff)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + \
        chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b'')
    tmp = path + '.part'
    with open(tmp, 'wb') as f:
        f.write(png)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data-dir', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--out', required=True)
    ap.add_argument('--count', type=int, default=5000)
    ap.add_argument('--size', type=int, default=96)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    images = read_idx(find(a.data_dir, 'train-images-idx3-ubyte'))
    labels = read_idx(find(a.data_dir, 'train-labels-idx1-ubyte'))
    s = a.size
    idx = (np.arange(s) * 28 // s)
    ramp = np.linspace(0, 1, s, dtype=np.float32)[:, None, None]
    for i in range(min(a.count, len(images))):
        item = images[i][idx][:, idx].astype(np.float32)[:, :, None] / 255.0  # nearest-neighbour upscale
        bg0, bg1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        background = (1 - ramp) * bg0 + ramp * bg1
        tint = rng.uniform(0.2, 1, 3)
        rgb = background * (1 - item) + tint * item
        folder = os.path.join(a.out, str(int(labels[i])))
        os.makedirs(folder, exist_ok=True)
        write_png(os.path.join(folder, f'{i:05d}.png'), (rgb * 255).clip(0, 255).astype(np.uint8))
    print(f'wrote {min(a.count, len(images))} {s}x{s} RGB images to {a.out}')


if __name__ == '__main__':
    main()
