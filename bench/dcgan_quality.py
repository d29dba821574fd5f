#!/usr/bin/env python3
"""DCGAN sample quality at equal epochs: latentlab against PyTorch, scored by one classifier (issue 20).

For each seed and initialisation, latentlab trains `--model dcgan` on MNIST and `latentlab eval
--parts generator` scores 10,000 of its samples after each chosen epoch; bench/torch_ref.py trains the
same networks (same losses, optimisers, batch 64, the fakes of the D step reused by the G step) and
writes 10,000 samples after the same epochs, which `latentlab classifier score` scores. The figure is
the classifier Fréchet distance to the MNIST test set (lower is better); the script prints the median
over the seeds per side, initialisation and epoch, and the spread.

Run with Debian's python3 (python3-torch), one run at a time (they share the cores):
    /usr/bin/python3 bench/dcgan_quality.py [--epochs 1,2,5] [--seeds 0,1,2] [--inits dcgan,default]
        [--ngf 64] [--sample-mode train,eval] [--latentlab-flag=--g-fresh-noise] [--json out.json]

--sample-mode says how PyTorch's G normalises while it samples: `train` (each batch of 256 by its own
statistics: what pytorch/examples' DCGAN does, never calling eval()) and/or `eval` (running statistics,
as latentlab samples). Every run folder and sample file stays under --work for a second look.
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, log):
    with open(log, 'w') as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f'failed ({r.returncode}): {" ".join(cmd)}\n(see {log})')


def fd_of(path):
    with open(path) as f:
        j = json.load(f)
    return j.get('generator', j)['classifier_frechet_distance']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--exe', default=os.path.join(ROOT, 'build', 'latentlab'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, 'data', 'mnist'))
    ap.add_argument('--epochs', default='1,2,5')
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--inits', default='dcgan,default', help="dcgan: N(0, 0.02); default: PyTorch's")
    ap.add_argument('--ngf', type=int, default=64, help='width of G and D (ngf = ndf)')
    ap.add_argument('--sample-mode', default='train', help="PyTorch's sampling batch norm: train, eval or train,eval")
    ap.add_argument('--latentlab-flag', action='append', default=[], help='extra flag for latentlab train (repeatable)')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--work', default=os.path.join(ROOT, 'bench-out', 'dcgan-quality'))
    ap.add_argument('--json', help='also write every figure here')
    a = ap.parse_args()
    epochs = sorted(int(e) for e in a.epochs.split(','))
    seeds = [int(s) for s in a.seeds.split(',')]
    inits, modes = a.inits.split(','), a.sample_mode.split(',')
    os.makedirs(a.work, exist_ok=True)
    data = ['--data-dir', a.data_dir]
    results = []  # {side, init, seed, epoch, fd}
    for seed in seeds:
        for init in inits:
            tag = f'{init}-s{seed}'
            run_dir = os.path.join(a.work, f'latentlab-{tag}')
            if not os.path.exists(os.path.join(run_dir, 'model')):
                run([a.exe, 'train', '--model', 'dcgan', '--init', init, '--seed', str(seed), '--epochs', str(epochs[-1]),
                     '--ngf', str(a.ngf), '--ndf', str(a.ngf), '--keep-checkpoints', 'all', '--threads', str(a.threads),
                     '--out', run_dir] + data + a.latentlab_flag, run_dir + '.log')
            for e in epochs:
                out = os.path.join(a.work, f'latentlab-{tag}-epoch{e}.json')
                if not os.path.exists(out):
                    run([a.exe, 'eval', run_dir, '--parts', 'generator', '--epoch', str(e), '--seed', str(seed), '-o', out,
                         '--threads', str(a.threads)] + data, out + '.log')
                results.append({'side': 'latentlab', 'init': init, 'seed': seed, 'epoch': e, 'fd': fd_of(out)})
            for mode in modes:
                prefix = os.path.join(a.work, f'pytorch-{tag}-{mode}')
                if not all(os.path.exists(f'{prefix}-epoch{e}.npy') for e in epochs):
                    run([sys.executable, os.path.join(HERE, 'torch_ref.py'), '--model', 'dcgan', '--batch-size', '64',
                         '--lr', '2e-4', '--epochs', str(epochs[-1]), '--seed', str(seed), '--init', init,
                         '--ngf', str(a.ngf), '--ndf', str(a.ngf), '--threads', str(a.threads), '--samples-at', a.epochs,
                         '--samples-out', prefix, '--sample-mode', mode] + data, prefix + '.log')
                for e in epochs:
                    out = f'{prefix}-epoch{e}.json'
                    if not os.path.exists(out):
                        run([a.exe, 'classifier', 'score', f'{prefix}-epoch{e}.npy', '-o', out, '--threads', str(a.threads)]
                            + data, out + '.log')
                    results.append({'side': f'pytorch ({mode} BN)', 'init': init, 'seed': seed, 'epoch': e, 'fd': fd_of(out)})
    print(f'classifier Fréchet distance, median of seeds {a.seeds} [min, max]; ngf = ndf = {a.ngf}')
    print(f'{"side":<22} {"init":<8} ' + ' '.join(f'{"epoch " + str(e):>24}' for e in epochs))
    for side in dict.fromkeys(r['side'] for r in results):
        for init in inits:
            cells = []
            for e in epochs:
                v = [r['fd'] for r in results if r['side'] == side and r['init'] == init and r['epoch'] == e]
                cells.append(f'{statistics.median(v):8.1f} [{min(v):6.1f}, {max(v):6.1f}]')
            print(f'{side:<22} {init:<8} ' + ' '.join(f'{c:>24}' for c in cells))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
