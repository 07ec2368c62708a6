/*
 * cpu.c - a CPU-bound WASI program for measuring the run-time cost of
 * coredump-rewrite's instrumentation. It mixes what real code does: many
 * small calls, integer division and remainder, float-to-int conversions,
 * calls through function pointers (qsort comparators), recursion and array
 * loads and stores. Usage: cpu [ROUNDS]; prints a checksum.
 *
 * Build (clang 14, wasi-libc):
 *   clang --target=wasm32-wasi -O2 -c cpu.c -o cpu.o && clang --target=wasm32-wasi cpu.o -o cpu.wasm
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define N 4096

static uint32_t rng_state = 12345;

NOINLINE static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

NOINLINE static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

NOINLINE static uint32_t hash_mod(uint32_t v, uint32_t m) {
    /* Division and remainder by a run-time value. */
    return (v / (m | 1)) ^ (v % (m | 3));
}

NOINLINE static int to_int(double x) { return (int)x; }

NOINLINE static uint64_t fib(int n) { return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2); }

typedef uint32_t (*op_fn)(uint32_t, uint32_t);
NOINLINE static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
NOINLINE static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }
NOINLINE static uint32_t op_mul(uint32_t a, uint32_t b) { return a * b + 1; }
static op_fn ops[3] = {op_add, op_xor, op_mul};

static int values[N];
static double reals[N];

NOINLINE static uint64_t round_once(int round) {
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        values[i] = (int)(next_random() % 100000);
        reals[i] = (double)values[i] * 1.37 + round;
    }
    qsort(values, N, sizeof values[0], compare_ints);
    for (int i = 0; i < N; i++) {
        sum += hash_mod((uint32_t)values[i], (uint32_t)(i + round));
        sum += (uint64_t)to_int(reals[i] / 3.0);
        sum = ops[(i + round) % 3]((uint32_t)sum, (uint32_t)i);
    }
    sum += fib(18 + round % 3);
    return sum;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    uint64_t total = 0;
    for (int r = 0; r < rounds; r++) {
        total += round_once(r);
    }
    printf("checksum %llu\n", (unsigned long long)total);
    return 0;
}
