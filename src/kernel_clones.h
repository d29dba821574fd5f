#pragma once
// For the torch-free kernels (src/train/adam_kernel.cpp, src/nn/mlp_kernels.cpp,
// src/losses/recon_kernels.cpp): functions marked
// LATENTLAB_CLONES are cloned for AVX2+FMA and plain x86-64, chosen when the program loads (GCC; clang,
// used for the fuzz build, would need the attribute on every declaration too).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LATENTLAB_CLONES __attribute__((target_clones("avx2,fma", "default")))
#else
#define LATENTLAB_CLONES
#endif
