/* transcode_repeat FILE HEIGHT:KBPS SEG N [THREADS [DECODER-THREADS [BOUND-PERCENT]]]: transcodes
 * segment SEG of the one-rung ladder HEIGHT:KBPS of FILE N times and prints one line per run with a
 * hash of the bytes; each run on a fresh thread (THREADS of them at once, 1 by default), each
 * decoding with DECODER-THREADS threads (0, the default: one per core). BOUND-PERCENT shrinks the
 * segment's planned size to that share, so that encodes overflow it and are redone at lower rates.
 * TRANSCODE_OUT=FILE: the last run's bytes are written there. Not a unit test: a tool for determinism
 * checks (t-ladder-determinism) and for timing one segment. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "log.h"
#include "plan.h"
#include "scan.h"
#include "source.h"
#include "transcode.h"

static struct synth_input in;
static uint32_t seg;

struct run {
	pthread_t t;
	int ret;
	uint64_t h;
	double s;
};

static void *one(void *arg)
{
	struct run *r = arg;
	struct timespec a, b;
	uint8_t *out = NULL;
	r->h = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	r->ret = transcode_segment(&in, 0, seg, &out);
	clock_gettime(CLOCK_MONOTONIC, &b);
	r->s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	if (r->ret == 0) {
		r->h = hash_fnv1a(out, in.plan->rungs[0].sizes[seg], 0);
		if (getenv("TRANSCODE_OUT")) {
			FILE *f = fopen(getenv("TRANSCODE_OUT"), "wb");
			if (f) {
				fwrite(out, 1, in.plan->rungs[0].sizes[seg], f);
				fclose(f);
			}
		}
	}
	free(out);
	return NULL;
}

int main(int argc, char **argv)
{
	struct source_config scfg = { 0 };
	struct transcode_config tcfg = { "libx264", "veryfast", "main" };
	struct plan_config pcfg = { .target = 6 * 90000, .nb_rungs = 1, .profile_idc = 77 };
	struct source *src = NULL;
	struct media_index *ix = NULL;
	struct plan *plan = NULL;
	char reason[256] = "", *why = NULL;
	unsigned n, threads;
	int bad = 0;

	if (argc < 5 || sscanf(argv[2], "%u:%u", &pcfg.rungs[0].height, &pcfg.rungs[0].kbps) != 2) {
		fprintf(stderr, "usage: transcode_repeat FILE HEIGHT:KBPS SEG N [THREADS [DECODER-THREADS]]\n");
		return 2;
	}
	seg = (uint32_t)atoi(argv[3]);
	n = (unsigned)atoi(argv[4]);
	threads = argc > 5 ? (unsigned)atoi(argv[5]) : 1;
	if (!threads)
		threads = 1;
	log_set_debug(getenv("TRANSCODE_DEBUG") != NULL);
	source_init(&scfg, NULL, NULL);
	scan_init();
	transcode_init(&tcfg);
	transcode_set_decoder_threads(argc > 6 ? (unsigned)atoi(argv[6]) : 0);
	if (source_open(argv[1], &src, reason, sizeof(reason)) < 0 || scan_build(src, &ix, &why) < 0 ||
	    plan_build(ix, &pcfg, &plan) < 0 || seg >= plan->nb_segments || !plan->nb_rungs) {
		fprintf(stderr, "transcode_repeat: %s: %s\n", argv[1], why ? why : reason[0] ? reason : "no such segment");
		return 2;
	}
	if (argc > 7) {
		uint64_t *b = &((struct plan_rung *)&plan->rungs[0])->sizes[seg];
		*b = *b * (uint64_t)atoi(argv[7]) / 100 / 188 * 188;
	}
	in = (struct synth_input){ .path = argv[1], .id = source_identity(src), .ix = ix, .plan = plan };
	for (unsigned done = 0; done < n;) {
		struct run runs[16];
		unsigned k = threads < 16 ? threads : 16;
		if (k > n - done)
			k = n - done;
		for (unsigned i = 0; i < k; i++)
			pthread_create(&runs[i].t, NULL, one, &runs[i]);
		for (unsigned i = 0; i < k; i++) {
			pthread_join(runs[i].t, NULL);
			if (runs[i].ret < 0)
				bad = 1;
			printf("run %u: %d %016llx %.3f s\n", done + i, runs[i].ret, (unsigned long long)runs[i].h, runs[i].s);
		}
		done += k;
	}
	plan_free(plan);
	index_free(ix);
	source_close(src);
	return bad;
}
