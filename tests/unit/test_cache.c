/* The cache as a key -> file store, under threads: entries written and read back whole, a
 * damaged entry dropped, and many threads opening many entries at once, so that the recency
 * buffer fills and flushes while others touch it. Every use must reach the store exactly once
 * (a lost or doubled touch, or a write past the buffer, shows in the hit counts; under ASan a
 * write past it fails at once). Also single flight (flight.h): one pilot per key, every waiter
 * gets its result. Runs in a temporary folder; scripts/test.sh runs it again under ASan. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "check.h"
#include "flight.h"
#include "store.h"

#define NB_KEYS 3000          /* several times the recency buffer */
#define NB_THREADS 16
#define OPENS_PER_THREAD 20000

static char keys[NB_KEYS][CACHE_KEY_LEN + 1];
static uint64_t opens_ok[NB_THREADS];

static uint64_t size_of(unsigned i)
{
	return 100 + i % 37;
}

static void fill_bytes(unsigned i, uint8_t *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		b[k] = (uint8_t)(i * 31 + k);
}

static void *opener(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg, seed = t * 2654435761u + 1;
	for (unsigned n = 0; n < OPENS_PER_THREAD; n++) {
		unsigned i;
		int fd;
		seed = seed * 1103515245u + 12345u;
		/* Each thread walks its own stretch of keys, so thousands of distinct keys are touched
		 * between two flushes. */
		i = (t * (NB_KEYS / NB_THREADS) + n + (seed >> 24) % 3) % NB_KEYS;
		if ((fd = cache_open(keys[i], size_of(i))) >= 0) {
			opens_ok[t]++;
			close(fd);
		}
	}
	return NULL;
}

static int sum_hits(const char *key, const struct store_segment *rec, void *arg)
{
	(void)key;
	*(uint64_t *)arg += rec->hits;
	return 0;
}

static struct flight_set fs = FLIGHT_SET_INIT;
static int pilots;
static pthread_mutex_t pilots_lock = PTHREAD_MUTEX_INITIALIZER;
static int results[NB_THREADS];

static void *flyer(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	struct flight *f;
	int result = -1, r = flight_join(&fs, "one key", &f, &result);
	if (r == 1) {
		pthread_mutex_lock(&pilots_lock);
		pilots++;
		pthread_mutex_unlock(&pilots_lock);
		usleep(200 * 1000);  /* long enough for every other thread to join */
		flight_land(&fs, f, 42);
		result = 42;
	}
	results[t] = result;
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/hlsfs-test-cache.XXXXXX", cmd[256];
	struct cache_config cfg = { 0 };
	struct store *st;
	pthread_t th[NB_THREADS];
	uint8_t buf[256];
	uint64_t hits = 0, total = 0;

	if (!mkdtemp(dir))
		return 1;
	CHECK_EQ(store_open(dir, &st), 0);
	cfg.dir = dir;
	CHECK_EQ(cache_init(&cfg, st), 0);
	CHECK(cache_enabled());

	for (unsigned i = 0; i < NB_KEYS; i++) {
		struct cache_writer *w;
		snprintf(keys[i], sizeof(keys[i]), "%016x%016x", i * 2654435761u, i);
		fill_bytes(i, buf, size_of(i));
		CHECK_EQ(cache_write_begin(keys[i], size_of(i), &w), 0);
		CHECK_EQ(cache_write(w, buf, size_of(i)), 0);
		CHECK_EQ(cache_write_commit(w, false), 0);
	}
	/* Read back one entry whole; a size that is not the recorded one is a miss. */
	{
		uint8_t got[256];
		int fd = cache_open(keys[7], size_of(7));
		CHECK(fd >= 0);
		fill_bytes(7, buf, size_of(7));
		CHECK_EQ(pread(fd, got, sizeof(got), 0), (long long)size_of(7));
		CHECK(memcmp(got, buf, size_of(7)) == 0);
		close(fd);
		CHECK(!cache_has(keys[8], size_of(8) + 1));
		CHECK(cache_has(keys[8], size_of(8)));
		opens_ok[0]++;  /* the whole read above is a use too */
	}
	/* An entry asked for with another size than its record is damaged: dropped, a miss. */
	{
		struct cache_writer *w;
		const char *k = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
		CHECK_EQ(cache_write_begin(k, 10, &w), 0);
		CHECK_EQ(cache_write(w, buf, 10), 0);
		CHECK_EQ(cache_write_commit(w, true), 0);
		CHECK(cache_has(k, 10));
		CHECK_EQ(cache_open(k, 11), -ENOENT);
		CHECK(!cache_has(k, 10));
	}
	/* Writing more than was reserved is refused, and the entry is never recorded. */
	{
		struct cache_writer *w;
		CHECK_EQ(cache_write_begin("ffffffffffffffffffffffffffffffff", 10, &w), 0);
		CHECK_EQ(cache_write(w, buf, 11), -EINVAL);
		cache_write_abort(w);
		CHECK(!cache_has("ffffffffffffffffffffffffffffffff", 10));
	}

	for (unsigned t = 0; t < NB_THREADS; t++)
		pthread_create(&th[t], NULL, opener, (void *)(uintptr_t)t);
	for (unsigned t = 0; t < NB_THREADS; t++)
		pthread_join(th[t], NULL);
	cache_shutdown();  /* writes the last touches */
	for (unsigned t = 0; t < NB_THREADS; t++)
		total += opens_ok[t];
	store_each_segment(st, sum_hits, &hits);
	CHECK_EQ(total, 1 + (uint64_t)NB_THREADS * OPENS_PER_THREAD);
	CHECK_EQ(hits, total);
	store_close(st);

	for (unsigned t = 0; t < NB_THREADS; t++)
		pthread_create(&th[t], NULL, flyer, (void *)(uintptr_t)t);
	for (unsigned t = 0; t < NB_THREADS; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ(pilots, 1);
	for (unsigned t = 0; t < NB_THREADS; t++)
		CHECK_EQ(results[t], 42);
	CHECK(!flight_busy(&fs, "one key"));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_report("cache");
}
