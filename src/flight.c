/* Single flight (flight.h): a list of the keys being worked on, each with the callers waiting for
 * it. Few flights are ever under way at once (bounded by workers and readers), so a list is enough. */
#include "flight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct flight {
	struct flight *next;
	char *key;
	unsigned refs;    /* the pilot and its waiters */
	bool landed;
	int result;
};

/* With fs->lock held. */
static struct flight *find(struct flight_set *fs, const char *key)
{
	for (struct flight *f = fs->head; f; f = f->next)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

/* With fs->lock held. */
static void release(struct flight *f)
{
	if (--f->refs == 0) {
		free(f->key);
		free(f);
	}
}

/* With fs->lock held: a new flight of key, listed. */
static int take_off(struct flight_set *fs, const char *key, struct flight **mine)
{
	struct flight *f = calloc(1, sizeof(*f));
	if (!f || !(f->key = strdup(key))) {
		free(f);
		return -ENOMEM;
	}
	f->refs = 1;
	f->next = fs->head;
	fs->head = f;
	*mine = f;
	return 1;
}

int flight_join(struct flight_set *fs, const char *key, struct flight **mine, int *result)
{
	struct flight *f;
	int ret;

	*mine = NULL;
	pthread_mutex_lock(&fs->lock);
	if ((f = find(fs, key))) {
		f->refs++;
		while (!f->landed)
			pthread_cond_wait(&fs->landed, &fs->lock);
		*result = f->result;
		release(f);
		ret = 0;
	} else {
		ret = take_off(fs, key, mine);
	}
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

int flight_try(struct flight_set *fs, const char *key, struct flight **mine)
{
	int ret = 0;

	*mine = NULL;
	pthread_mutex_lock(&fs->lock);
	if (!find(fs, key))
		ret = take_off(fs, key, mine);
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

void flight_land(struct flight_set *fs, struct flight *f, int result)
{
	if (!f)
		return;
	pthread_mutex_lock(&fs->lock);
	for (struct flight **pp = &fs->head; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	f->landed = true;
	f->result = result;
	release(f);
	pthread_cond_broadcast(&fs->landed);
	pthread_mutex_unlock(&fs->lock);
}

bool flight_busy(struct flight_set *fs, const char *key)
{
	bool busy;
	pthread_mutex_lock(&fs->lock);
	busy = find(fs, key) != NULL;
	pthread_mutex_unlock(&fs->lock);
	return busy;
}
