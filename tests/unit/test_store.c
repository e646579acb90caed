/* The persistent index's deferred media records (store_put_media_later): a record queued is what
 * store_get_media returns from the call on (a reader waits for it rather than miss it), the newest
 * of a path wins, a record that cannot be made is a miss, every record's release runs exactly once,
 * and store_close writes what is still queued, so the next open finds it. Runs in a temporary
 * folder; scripts/test.sh runs it again under ASan. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

#define NB_PATHS 40

struct rec {
	const char *text;       /* the blob's bytes; NULL: make() fails */
	pthread_mutex_t *gate;  /* held by the test while make() must wait, or NULL */
	int released;
};

static int make(void *arg, uint8_t **blob, size_t *size)
{
	struct rec *r = arg;
	if (r->gate) {
		pthread_mutex_lock(r->gate);
		pthread_mutex_unlock(r->gate);
	}
	if (!r->text)
		return -EINVAL;
	*size = strlen(r->text);
	*blob = (uint8_t *)strdup(r->text);
	return *blob ? 0 : -ENOMEM;
}

static void release(void *arg)
{
	((struct rec *)arg)->released++;
}

static int queue(struct store *st, const char *path, struct rec *r)
{
	struct store_maker mk = { make, release, r };
	return store_put_media_later(st, path, &mk);
}

/* The record of path as text, or NULL when there is none. */
static char *get(struct store *st, const char *path)
{
	uint8_t *blob;
	size_t size;
	char *s;
	if (store_get_media(st, path, &blob, &size) < 0)
		return NULL;
	s = malloc(size + 1);
	memcpy(s, blob, size);
	s[size] = '\0';
	free(blob);
	return s;
}

struct reader {
	struct store *st;
	char *got;
};

static void *read_gated(void *arg)
{
	struct reader *rd = arg;
	rd->got = get(rd->st, "/v/gated.mp4");
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/hlsfs-test-store.XXXXXX", cmd[256];
	struct store *st;
	static struct rec recs[NB_PATHS], first = { .text = "old" }, second = { .text = "new" }, broken = { .text = NULL };
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	struct rec gated = { .text = "gated", .gate = &gate };
	char path[64], want[64], *got;

	if (!mkdtemp(dir))
		return 1;
	CHECK_EQ(store_open(dir, &st), 0);

	/* A reader of a record still being made waits for it: it never sees a miss. */
	{
		struct reader rd = { st, NULL };
		pthread_t th;
		pthread_mutex_lock(&gate);
		CHECK_EQ(queue(st, "/v/gated.mp4", &gated), 0);
		CHECK_EQ(pthread_create(&th, NULL, read_gated, &rd), 0);
		usleep(100000);
		CHECK_EQ(gated.released, 0);  /* make() is still held */
		pthread_mutex_unlock(&gate);
		pthread_join(th, NULL);
		CHECK(rd.got && !strcmp(rd.got, "gated"));
		CHECK_EQ(gated.released, 1);
		free(rd.got);
	}
	/* The newest record of a path wins; one that cannot be made is a miss, and released. */
	CHECK_EQ(queue(st, "/v/twice.mp4", &first), 0);
	CHECK_EQ(queue(st, "/v/twice.mp4", &second), 0);
	CHECK_EQ(queue(st, "/v/broken.mp4", &broken), 0);
	got = get(st, "/v/twice.mp4");
	CHECK(got && !strcmp(got, "new"));
	free(got);
	CHECK(!get(st, "/v/broken.mp4"));
	store_flush(st);
	CHECK_EQ(first.released, 1);
	CHECK_EQ(second.released, 1);
	CHECK_EQ(broken.released, 1);

	/* Records queued right before the store closes are written by the close. */
	for (unsigned i = 0; i < NB_PATHS; i++) {
		snprintf(path, sizeof(path), "/v/clip-%u.mp4", i);
		recs[i].text = strdup(path);
		CHECK_EQ(queue(st, path, &recs[i]), 0);
	}
	store_close(st);
	for (unsigned i = 0; i < NB_PATHS; i++)
		CHECK_EQ(recs[i].released, 1);
	CHECK_EQ(store_open(dir, &st), 0);
	for (unsigned i = 0; i < NB_PATHS; i++) {
		snprintf(want, sizeof(want), "/v/clip-%u.mp4", i);
		got = get(st, want);
		CHECK(got && !strcmp(got, want));
		free(got);
		free((char *)recs[i].text);
	}
	got = get(st, "/v/twice.mp4");
	CHECK(got && !strcmp(got, "new"));
	free(got);
	CHECK_EQ(store_count_media(st), NB_PATHS + 2);  /* gated, twice and the clips */
	store_close(st);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_report("store");
}
