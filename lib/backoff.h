#ifndef LIB_BACKOFF_H
#define LIB_BACKOFF_H

#include <stdint.h>

/*
 * Bounded exponential backoff with jitter, for reconnects and retries. The delay for
 * attempt n (0-based) is min(base * 2^n, max), then shortened by a random fraction of at
 * most 'jitter' of itself, so it never exceeds 'max' and clients that failed together do
 * not retry together. Tests inject the random source to make the sequence deterministic.
 */

/* A random source: returns a uniformly distributed 32-bit value. */
typedef uint32_t backoff_rand_cb(void *ctx);

struct backoff {
    uint64_t base_ms;
    uint64_t max_ms;
    double jitter; /* 0 (none) .. 1; values outside are clamped */
    unsigned attempts;
    backoff_rand_cb *rand; /* NULL: the built-in generator below */
    void *rand_ctx;
    uint64_t rand_state; /* xorshift state for the built-in generator */
};

/*
 * Start a backoff with no failed attempts. 'rand' may be NULL, and then a generator
 * seeded from the monotonic clock is used.
 */
void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms, double jitter,
                  backoff_rand_cb *rand, void *rand_ctx);

/* The delay before the next attempt; counts one more attempt. */
uint64_t backoff_next(struct backoff *b);

/* Forget the failures: the next delay is 'base' again (minus jitter). */
void backoff_reset(struct backoff *b);

/* min(base * 2^attempt, max) without jitter, saturating instead of overflowing. */
uint64_t backoff_delay(uint64_t base_ms, uint64_t max_ms, unsigned attempt);

#endif
