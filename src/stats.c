/* Process-wide counters and a generation-time histogram, rendered as Prometheus text. */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>

#include "strbuf.h"

static uint64_t counters[STATS_NB_COUNTERS];
static int64_t gauges[STATS_NB_GAUGES];
static const double bucket_le[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define NB_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))
static uint64_t buckets[NB_BUCKETS + 1];
static uint64_t gen_time_us;

static const struct {
	const char *name, *help;
} counter_info[STATS_NB_COUNTERS] = {
	[STATS_CACHE_HITS] = { "hlsfs_cache_hits_total", "Segment opens answered from the cache." },
	[STATS_CACHE_MISSES] = { "hlsfs_cache_misses_total", "Segment opens that found no usable cache entry." },
	[STATS_CACHE_EVICTIONS] = { "hlsfs_cache_evictions_total", "Cache entries removed for size or age." },
	[STATS_CACHE_ERRORS] = { "hlsfs_cache_write_errors_total", "Cache writes that failed; the segment was served uncached." },
	[STATS_CACHE_TORN] = { "hlsfs_cache_damaged_total", "Cache entries found damaged and rebuilt." },
	[STATS_BYTES_SERVED] = { "hlsfs_bytes_served_total", "Bytes returned by reads of segments." },
	[STATS_GENERATIONS] = { "hlsfs_generations_total", "Segments generated (remuxed or transcoded) into the cache by this node; those taken from the shared store are not counted." },
	[STATS_PREFETCH_QUEUED] = { "hlsfs_prefetch_queued_total", "Segments queued for prefetch." },
	[STATS_INDEX_BUILDS] = { "hlsfs_index_builds_total", "Sources indexed by reading their moov." },
	[STATS_INDEX_LOADS] = { "hlsfs_index_loads_total", "Indexes loaded from the persistent index." },
	[STATS_SOURCE_OPENS] = { "hlsfs_source_opens_total", "Source files opened." },
	[STATS_REMOTE_REQUESTS] = { "hlsfs_remote_requests_total", "HTTP requests to remote archives, retries included." },
	[STATS_REMOTE_BYTES] = { "hlsfs_remote_bytes_total", "Body bytes received from remote archives." },
	[STATS_REMOTE_RETRIES] = { "hlsfs_remote_retries_total", "Remote requests tried again after a transient failure." },
	[STATS_REMOTE_ERRORS] = { "hlsfs_remote_errors_total", "Remote requests that failed for good." },
	[STATS_BLOCK_HITS] = { "hlsfs_remote_block_hits_total", "Blocks of remote sources read from the block cache." },
	[STATS_BLOCK_MISSES] = { "hlsfs_remote_block_misses_total", "Blocks of remote sources fetched from their archive." },
	[STATS_SHARED_HITS] = { "hlsfs_shared_hits_total", "Segments taken from the shared store (shared_cache) instead of made here." },
	[STATS_SHARED_MISSES] = { "hlsfs_shared_misses_total", "Segments looked for in the shared store and not found there." },
	[STATS_SHARED_UPLOADS] = { "hlsfs_shared_uploads_total", "Segments made here and written to the shared store." },
	[STATS_SHARED_ERRORS] = { "hlsfs_shared_errors_total", "Shared store reads and writes that failed; the segment was made here." },
	[STATS_SHARED_DAMAGED] = { "hlsfs_shared_damaged_total", "Shared store objects found torn or foreign (size, key or checksum) and ignored." },
	[STATS_SHARED_DROPPED] = { "hlsfs_shared_dropped_total", "Uploads to the shared store dropped because its queue was full." },
	[STATS_DECODES_CONTINUED] = { "hlsfs_decodes_continued_total", "Transcoded segments decoded on from the previous segment's decoder (a GOP longer than a segment) instead of from the keyframe." },
	[STATS_PRODUCTIONS_LEFT] = { "hlsfs_productions_left_total", "Transcoded segments whose readers all closed them before they were whole (a player gave up on them); each was finished after the segments readers waited for, and kept." },
};

static const struct {
	const char *name, *help;
} gauge_info[STATS_NB_GAUGES] = {
	[STATS_GENERATIONS_IN_FLIGHT] = { "hlsfs_generations_in_flight", "Segment generations running now." },
	[STATS_GENERATIONS_PAUSED] = { "hlsfs_generations_paused", "Transcodes made ahead (prefetch) paused while a segment a reader waits for is made." },
	[STATS_DECODERS_PARKED] = { "hlsfs_decoders_parked", "Decoders kept, at most 20 s, for the next segment of a GOP longer than a segment." },
	[STATS_CACHE_BYTES] = { "hlsfs_cache_bytes", "Bytes of segment files in the cache." },
	[STATS_CACHE_ENTRIES] = { "hlsfs_cache_entries", "Segment files in the cache." },
};

void stats_add(enum stats_counter c, uint64_t n)
{
	__atomic_add_fetch(&counters[c], n, __ATOMIC_RELAXED);
}

void stats_gauge_add(enum stats_gauge g, int64_t d)
{
	__atomic_add_fetch(&gauges[g], d, __ATOMIC_RELAXED);
}

int64_t stats_gauge(enum stats_gauge g)
{
	return __atomic_load_n(&gauges[g], __ATOMIC_RELAXED);
}

uint64_t stats_counter(enum stats_counter c)
{
	return __atomic_load_n(&counters[c], __ATOMIC_RELAXED);
}

void stats_generation_time(double s)
{
	size_t i = 0;
	while (i < NB_BUCKETS && s > bucket_le[i])
		i++;
	__atomic_add_fetch(&buckets[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&gen_time_us, (uint64_t)(s * 1e6), __ATOMIC_RELAXED);
}

int stats_render(uint64_t index_entries, char **text, size_t *len)
{
	struct strbuf sb;
	uint64_t cum = 0;

	strbuf_init(&sb);
	for (int i = 0; i < STATS_NB_COUNTERS; i++)
		strbuf_printf(&sb, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", counter_info[i].name,
			      counter_info[i].help, counter_info[i].name, counter_info[i].name, stats_counter(i));
	for (int i = 0; i < STATS_NB_GAUGES; i++)
		strbuf_printf(&sb, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", gauge_info[i].name,
			      gauge_info[i].help, gauge_info[i].name, gauge_info[i].name, stats_gauge(i));
	strbuf_printf(&sb, "# HELP hlsfs_index_entries Sources in the persistent index.\n"
			   "# TYPE hlsfs_index_entries gauge\nhlsfs_index_entries %" PRIu64 "\n", index_entries);
	strbuf_printf(&sb, "# HELP hlsfs_generation_seconds Time to generate one segment into the cache.\n"
			   "# TYPE hlsfs_generation_seconds histogram\n");
	for (size_t i = 0; i <= NB_BUCKETS; i++) {
		cum += __atomic_load_n(&buckets[i], __ATOMIC_RELAXED);
		if (i < NB_BUCKETS)
			strbuf_printf(&sb, "hlsfs_generation_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", bucket_le[i], cum);
		else
			strbuf_printf(&sb, "hlsfs_generation_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	strbuf_printf(&sb, "hlsfs_generation_seconds_sum %.6f\nhlsfs_generation_seconds_count %" PRIu64 "\n",
		      (double)__atomic_load_n(&gen_time_us, __ATOMIC_RELAXED) / 1e6, cum);
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}
