#!/usr/bin/env python3
"""Data-parallel training on this machine (c10d Gloo on the loopback), side by side with one process.

For each workload it runs interleaved pairs, each a fresh `latentlab train` of --epochs epochs:
  A: --nproc N --threads T/N, --batch-size B/N per process   (global batch B)
  B: one process, --threads T, --batch-size B
and reports for each side the training images/s of the last epoch (rank 0's clock), for A the share of
the epoch that rank 0 spent in gradient allreduces (metrics.jsonl's allreduce_seconds / seconds) and
the cost per step, the median and spread of the per-pair ratios (A / B: above 1, data-parallel is faster), and the
peak RSS (A: the largest rank). `--oversubscribe K` also runs the autoencoder in K processes of one
thread each (more processes than cores) and checks its losses against one process with the whole
batch: a correctness run, not a speed figure.

    /usr/bin/python3 bench/distributed.py [--pairs 7] [--nproc 2] [--workloads vae-seed,dcgan:3200]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> (flags, global batch)
WORKLOADS = {
    'vae-seed': (['--preset', 'vae-seed'], 128),
    'ae': (['--model', 'ae'], 64),
    'dcgan': (['--model', 'dcgan'], 64),
}


def timed(cmd):
    """Runs cmd; returns its peak RSS in MiB (the largest of it and the children it waited for)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f'failed ({code}): {" ".join(cmd)}\n{err[-2000:]}')
    return ru.ru_maxrss / 1024.0


def last_epoch(out):
    with open(os.path.join(out, 'metrics.jsonl')) as f:
        return [json.loads(l) for l in f if l.strip()][-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--exe', default=os.path.join(ROOT, 'build', 'latentlab'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, 'data', 'mnist'))
    ap.add_argument('--workloads', default='vae-seed,dcgan:3200',
                    help='name[:images],... (names: %s); images limits training to the first N' % ','.join(WORKLOADS))
    ap.add_argument('--pairs', type=int, default=7)
    ap.add_argument('--nproc', type=int, default=2)
    ap.add_argument('--threads', type=int, default=os.cpu_count(), help='threads of one process; each of N gets threads/N')
    ap.add_argument('--epochs', type=int, default=2, help='the last epoch is timed (the first warms up)')
    ap.add_argument('--oversubscribe', type=int, default=4, help='processes of the correctness run (0: skip)')
    a = ap.parse_args()
    per_proc_threads = max(1, a.threads // a.nproc)
    tmp = tempfile.mkdtemp(prefix='latentlab-dist-bench-')
    print(f'{a.nproc} processes x {per_proc_threads} thread(s) against 1 process x {a.threads} threads, '
          f'same global batch, {a.pairs} interleaved pairs, last of {a.epochs} epochs timed')
    for spec in a.workloads.split(','):
        name, _, images = spec.partition(':')
        flags, batch = WORKLOADS[name]
        base = [a.exe, 'train', *flags, '--data-dir', a.data_dir, '--epochs', str(a.epochs), '--seed', '1',
                '--preview-every', '0', '--image-every', '1000', '--save-every', '1000']
        if images:
            base += ['--train-images', images]
        rows = {'A': [], 'B': []}
        for i in range(a.pairs):
            for side in 'AB':
                out = os.path.join(tmp, f'{name}-{side}-{i}')
                cmd = base + ['--out', out]
                if side == 'A':
                    cmd += ['--nproc', str(a.nproc), '--threads', str(per_proc_threads), '--batch-size', str(batch // a.nproc)]
                else:
                    cmd += ['--threads', str(a.threads), '--batch-size', str(batch)]
                rss = timed(cmd)
                m = last_epoch(out)
                rows[side].append((m['images_per_s'], m.get('allreduce_seconds', 0) / m['seconds'], rss,
                                   m.get('allreduce_seconds', 0), m['seconds']))
        steps = -(-int(images or 60000) // batch)
        med = lambda side, k: statistics.median(r[k] for r in rows[side])
        print(f'{name} (global batch {batch}{", " + images + " images" if images else ""}):')
        print(f'  {a.nproc} processes: {med("A", 0):8.0f} img/s  allreduce {100 * med("A", 1):4.1f}% of the epoch, '
              f'{1e6 * med("A", 3) / steps:6.0f} us/step  peak RSS {med("A", 2):6.0f} MiB per rank')
        print(f'  1 process:   {med("B", 0):8.0f} img/s  peak RSS {med("B", 2):6.0f} MiB')
        ratios = sorted(ra[0] / rb[0] for ra, rb in zip(rows['A'], rows['B']))  # per interleaved pair
        print(f'  ratio (N processes / 1): median {statistics.median(ratios):.2f}, pairs from {ratios[0]:.2f} to {ratios[-1]:.2f}')
    if a.oversubscribe:
        k = a.oversubscribe
        base = [a.exe, 'train', '--model', 'ae', '--data-dir', a.data_dir, '--epochs', '1', '--seed', '1',
                '--train-images', '4096', '--preview-every', '0']
        timed(base + ['--out', os.path.join(tmp, 'over-1'), '--threads', '1', '--batch-size', str(16 * k)])
        timed(base + ['--out', os.path.join(tmp, 'over-k'), '--nproc', str(k), '--threads', '1', '--batch-size', '16'])
        one, many = last_epoch(os.path.join(tmp, 'over-1')), last_epoch(os.path.join(tmp, 'over-k'))
        rel = max(abs(one[key] - many[key]) / abs(one[key]) for key in ('train_loss', 'test_loss'))
        print(f'oversubscribed: ae in {k} processes on {os.cpu_count()} cores, losses against one process with the '
              f'whole batch: largest relative difference {rel:.1e} ({"ok" if rel < 1e-4 else "MISMATCH"})')
        if rel >= 1e-4:
            sys.exit(1)


if __name__ == '__main__':
    main()
