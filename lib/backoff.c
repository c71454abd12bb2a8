/*
 * Bounded exponential backoff with jitter. Pure arithmetic plus a tiny xorshift generator;
 * timers belong to the callers (informer, work queue, leader election).
 */
#include "lib/backoff.h"

#include <uv.h>

uint64_t backoff_delay(uint64_t base_ms, uint64_t max_ms, unsigned attempt)
{
    uint64_t d = base_ms;

    for (unsigned i = 0; i < attempt && d < max_ms; i++) {
        if (d > UINT64_MAX / 2)
            return max_ms;
        d *= 2;
    }
    return d < max_ms ? d : max_ms;
}

static uint32_t xorshift(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (uint32_t)(x >> 32);
}

void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms, double jitter,
                  backoff_rand_cb *rand, void *rand_ctx)
{
    b->base_ms = base_ms;
    b->max_ms = max_ms < base_ms ? base_ms : max_ms;
    b->jitter = jitter < 0 ? 0 : (jitter > 1 ? 1 : jitter);
    b->attempts = 0;
    b->rand_state = uv_hrtime() | 1; /* xorshift must not start at 0 */
    b->rand = rand;
    b->rand_ctx = rand_ctx;
}

uint64_t backoff_next(struct backoff *b)
{
    uint64_t d = backoff_delay(b->base_ms, b->max_ms, b->attempts);
    uint32_t r = b->rand ? b->rand(b->rand_ctx) : xorshift(&b->rand_state);
    double fraction = (double)r / 4294967296.0; /* [0, 1) */

    if (b->attempts < UINT32_MAX)
        b->attempts++;
    return d - (uint64_t)((double)d * b->jitter * fraction);
}

void backoff_reset(struct backoff *b)
{
    b->attempts = 0;
}
