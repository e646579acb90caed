/* Counters the daemon exposes at .hlsfs/stats in Prometheus text format. Lock-free adds from
 * any thread; rendering reads a consistent-enough snapshot. */
#ifndef HLSFS_STATS_H
#define HLSFS_STATS_H

#include <stddef.h>
#include <stdint.h>

enum stats_counter {
	STATS_CACHE_HITS,
	STATS_CACHE_MISSES,
	STATS_CACHE_EVICTIONS,
	STATS_CACHE_ERRORS,        /* cache writes that failed (disk full, unwritable): served uncached */
	STATS_CACHE_TORN,          /* entries found damaged and dropped */
	STATS_BYTES_SERVED,
	STATS_GENERATIONS,         /* segments generated into the cache */
	STATS_PREFETCH_QUEUED,
	STATS_INDEX_BUILDS,        /* sources indexed by reading them */
	STATS_INDEX_LOADS,         /* indexes loaded from the persistent store */
	STATS_SOURCE_OPENS,
	STATS_REMOTE_REQUESTS,     /* HTTP requests to archives, retries included */
	STATS_REMOTE_BYTES,        /* body bytes received from archives */
	STATS_REMOTE_RETRIES,
	STATS_REMOTE_ERRORS,       /* remote requests that failed for good */
	STATS_BLOCK_HITS,          /* blocks of remote sources read from the block cache */
	STATS_BLOCK_MISSES,        /* blocks fetched from the archive */
	STATS_SHARED_HITS,         /* segments taken from the shared store instead of made here */
	STATS_SHARED_MISSES,       /* looked for in the shared store and not there */
	STATS_SHARED_UPLOADS,      /* segments made here and put into the shared store */
	STATS_SHARED_ERRORS,       /* shared store reads and writes that failed (the segment was made here) */
	STATS_SHARED_DAMAGED,      /* shared store objects found torn or foreign, and ignored */
	STATS_SHARED_DROPPED,      /* uploads dropped because the upload queue was full */
	STATS_DECODES_CONTINUED,   /* transcodes that went on with the previous segment's decoder */
	STATS_PRODUCTIONS_LEFT,    /* transcodes whose readers all left before the segment was whole */
	STATS_NB_COUNTERS
};

enum stats_gauge {
	STATS_GENERATIONS_IN_FLIGHT,
	STATS_GENERATIONS_PAUSED,  /* transcodes made ahead, waiting for a reader's to finish */
	STATS_DECODERS_PARKED,     /* decoders kept for the next segment of a long GOP (transcode.c) */
	STATS_CACHE_BYTES,
	STATS_CACHE_ENTRIES,
	STATS_NB_GAUGES
};

void stats_add(enum stats_counter c, uint64_t n);
void stats_gauge_add(enum stats_gauge g, int64_t delta);
int64_t stats_gauge(enum stats_gauge g);
uint64_t stats_counter(enum stats_counter c);
/* Records how long one generation took. */
void stats_generation_time(double seconds);

/* The Prometheus text. index_entries is the persistent index's record count. Returns 0 with
 * *text (free() it), or -ENOMEM. */
int stats_render(uint64_t index_entries, char **text, size_t *len);

#endif
