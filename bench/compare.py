#!/usr/bin/env python3
"""Side-by-side epoch timing: latentlab against the PyTorch reference (bench/torch_ref.py).

For each workload it runs interleaved pairs (latentlab, PyTorch, latentlab, PyTorch, ...), each a fresh
process training one epoch with the same model, data, batch size and thread count, and reports
images/s of both, the median of the per-pair time ratios (latentlab / PyTorch; below 1 is faster),
latentlab's GFLOP/s as a share of a measured sgemm peak, and the peak RSS of each process.

Run with Debian's python3 (python3-torch, the same ATen build latentlab links):
    /usr/bin/python3 bench/compare.py [--pairs 7] [--workloads vae:128,vae:32,dcgan:64:6400] [--threads N]
    python3 bench/compare.py --device cuda --exe build-gpu/latentlab --workloads vae:128,vae-conv:128,dcgan:64 --json out.json

Both sides run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (a forced core type slows OpenBLAS, which
PyTorch uses and latentlab's oneDNN products do not; --keep-openblas-env keeps them), and the script
prints the OpenBLAS core and the oneDNN ISA each side uses, then per workload the min, median and max
of the per-pair time ratios, so that a figure means the same on every machine.

A workload is model:batch[:images] (models: vae, ae, vae-conv, dcgan); images limits training to the first N images (--train-images),
for slow workloads such as the DCGAN (the reported img/s are per image trained).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Floating-point operations per training image (forward + backward, no input gradient for layer 1).
def mlp_flops(sizes):
    fwd = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return fwd

FLOPS_PER_IMAGE = {
    # encoder 784-400-40, decoder 20-400-784
    'vae': 3 * (mlp_flops([784, 400, 40]) + mlp_flops([20, 400, 784])) - 2 * 784 * 400,
    # encoder 784-256-64-20, decoder 20-64-256-784
    'ae': 3 * (mlp_flops([784, 256, 64, 20]) + mlp_flops([20, 64, 256, 784])) - 2 * 784 * 256,
}


def timed(cmd, env=None):
    """Runs cmd with its peak RSS measured by wait4; returns (stdout, maxrss MiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read().decode()
    err = p.stderr.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f'failed ({p.returncode}): {" ".join(cmd)}\n{err[-2000:]}')
    return out, ru.ru_maxrss / 1024.0


def sgemm_peak(threads):
    code = ('import torch,time;torch.set_num_threads(%d);a=torch.randn(1024,1024);b=torch.randn(1024,1024);'
            'torch.mm(a,b);t=time.perf_counter();n=20\nfor _ in range(n): torch.mm(a,b)\n'
            'print(2*1024**3*n/(time.perf_counter()-t)/1e9)') % threads
    return float(subprocess.check_output([sys.executable, '-c', code]).decode())


def openblas_core(env):
    code = ('import ctypes, ctypes.util, torch\nfor n in ("libopenblas.so.0", ctypes.util.find_library("openblas") or ""):\n'
            '    try:\n        f = ctypes.CDLL(n).openblas_get_corename\n        f.restype = ctypes.c_char_p\n'
            '        print(f().decode()); break\n    except OSError: pass\nelse: print("unknown")')
    try:
        return subprocess.check_output([sys.executable, '-c', code], env=env, stderr=subprocess.DEVNULL).decode().strip()
    except subprocess.CalledProcessError:
        return 'unknown'


ONEDNN_ISA = {0x0: 'all', 0x1: 'sse41', 0x3: 'avx', 0x7: 'avx2', 0x27: 'avx512_core', 0x67: 'avx512_core_vnni',
              0xe7: 'avx512_core_bf16', 0x3e7: 'avx512_core_amx', 0x407: 'avx2_vnni'}


def latentlab_isa(exe, env):
    """The ISA oneDNN picks in the libdnnl that latentlab links (dnnl_get_effective_cpu_isa)."""
    try:
        libs = subprocess.check_output(['ldd', exe], env=env).decode()
        path = next(l.split('=>')[1].split()[0] for l in libs.splitlines() if 'libdnnl' in l and '=>' in l)
        code = ('import ctypes; print(ctypes.CDLL(%r).dnnl_get_effective_cpu_isa())' % path)
        v = int(subprocess.check_output([sys.executable, '-c', code], env=env).decode())
        return f'{ONEDNN_ISA.get(v, hex(v))} ({os.path.basename(path)})'
    except Exception as e:  # noqa: BLE001 - a report, not a check
        return f'unknown ({e.__class__.__name__})'


def pytorch_isa(env):
    """What PyTorch reports of its CPU kernels (torch.__config__.show(): 'CPU capability usage')."""
    code = ('import torch\nfor l in torch.__config__.show().splitlines():\n'
            '    if "CPU capability" in l: print(l.split(":", 1)[1].strip())')
    try:
        return subprocess.check_output([sys.executable, '-c', code], env=env).decode().strip() or 'unknown'
    except subprocess.CalledProcessError:
        return 'unknown'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--exe', default=os.path.join(ROOT, 'build', 'latentlab'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, 'data', 'mnist'))
    ap.add_argument('--workloads', default='vae:128,vae:32', help='model:batch,... (models: %s)' % ','.join(FLOPS_PER_IMAGE))
    ap.add_argument('--pairs', type=int, default=7)
    ap.add_argument('--keep-openblas-env', action='store_true', help='keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE if set')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--env', action='append', default=[], metavar='NAME=VALUE',
                    help='set in the environment of both sides (e.g. GOMP_SPINCOUNT=10000000)')
    ap.add_argument('--device', default='cpu', help='cpu | cuda: both sides train on this device')
    ap.add_argument('--json', help='also write the results here as JSON (one object per workload)')
    ap.add_argument('--latentlab-env', action='append', default=[], metavar='NAME=VALUE',
                    help='set in the environment of the latentlab side only')
    a = ap.parse_args()
    base = dict(os.environ)
    if not a.keep_openblas_env:
        for k in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'):
            if base.pop(k, None) is not None:
                print(f'unset {k} for both sides (--keep-openblas-env keeps it)')
    env_both = dict(base, **dict(e.split('=', 1) for e in a.env))
    env_ll = dict(env_both, **dict(e.split('=', 1) for e in a.latentlab_env))
    if a.env or a.latentlab_env:
        print(f'environment: both {a.env or "-"}, latentlab only {a.latentlab_env or "-"}')
    cuda = a.device == 'cuda'
    peak = 0.0 if cuda else sgemm_peak(a.threads)
    if cuda:
        gpu = subprocess.check_output([sys.executable, '-c', 'import torch; print(torch.cuda.get_device_name(0), torch.__version__)']).decode().strip()
        print(f'device: cuda ({gpu}); {a.threads} CPU threads')
    else:
        print(f'machine: {os.cpu_count()} cores, {a.threads} threads; sgemm 1024^3 peak {peak:.1f} GFLOP/s')
        print(f'OpenBLAS core: {openblas_core(env_both)} (one library, loaded by both sides)')
        print(f'oneDNN ISA of latentlab: {latentlab_isa(a.exe, env_ll)}; PyTorch CPU capability: {pytorch_isa(env_both)}')
    results = []
    print(f'{"workload":<12} {"latentlab img/s":>16} {"pytorch img/s":>14} {"ratio":>7} {"min":>6} {"max":>6} {"GFLOP/s":>8} {"of peak":>8} {"RSS MiB (ll/pt)":>16}')
    with tempfile.TemporaryDirectory() as tmp:
        for w in a.workloads.split(','):
            parts = w.split(':')
            model, batch = parts[0], parts[1]
            images = int(parts[2]) if len(parts) > 2 else 60000
            limit = ['--train-images', str(images)] if len(parts) > 2 else []
            ll, pt, ratios, rss_ll, rss_pt = [], [], [], [], []
            for i in range(a.pairs):
                out_dir = os.path.join(tmp, f'{model}-{batch}-{i}')
                ll_model = ['--model', 'vae', '--arch', 'conv'] if model == 'vae-conv' else ['--model', model]
                _, r1 = timed([a.exe, 'train'] + ll_model + ['--batch-size', batch, '--epochs', '1', '--log-every', '0',
                               '--threads', str(a.threads), '--data-dir', a.data_dir, '--out', out_dir,
                               '--device', a.device] + limit, env_ll)
                with open(os.path.join(out_dir, 'metrics.jsonl')) as f:
                    s_ll = json.loads(f.readline())['seconds']
                out, r2 = timed([sys.executable, os.path.join(HERE, 'torch_ref.py'), '--model', model, '--batch-size', batch,
                                 '--epochs', '1', '--threads', str(a.threads), '--data-dir', a.data_dir,
                                 '--device', a.device] + limit +
                                (['--lr', '2e-4'] if model == 'dcgan' else []), env_both)
                s_pt = json.loads(out.strip().splitlines()[-1])['seconds']
                ll.append(s_ll); pt.append(s_pt); ratios.append(s_ll / s_pt); rss_ll.append(r1); rss_pt.append(r2)
            s_ll, s_pt = statistics.median(ll), statistics.median(pt)
            gflops = FLOPS_PER_IMAGE.get(model, 0) * images / s_ll / 1e9
            share = f'{100 * gflops / peak:>7.0f}%' if gflops and peak else f'{"-":>8}'
            results.append({'workload': f'{model}:{batch}', 'device': a.device, 'images': images, 'pairs': a.pairs,
                            'latentlab_images_per_s': images / s_ll, 'pytorch_images_per_s': images / s_pt,
                            'ratio_median': statistics.median(ratios), 'ratio_min': min(ratios), 'ratio_max': max(ratios),
                            'rss_mib_latentlab': max(rss_ll), 'rss_mib_pytorch': max(rss_pt)})
            print(f'{model + ":" + batch:<12} {images / s_ll:>16.0f} {images / s_pt:>14.0f} {statistics.median(ratios):>7.3f} '
                  f'{min(ratios):>6.3f} {max(ratios):>6.3f} '
                  f'{gflops:>8.1f} {share} {max(rss_ll):>8.0f}/{max(rss_pt):<7.0f}')
            sys.stdout.flush()
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
