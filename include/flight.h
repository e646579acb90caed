/* Single flight: work named by a key (building an index, producing a segment, fetching a remote
 * block) is done by one caller at a time; whoever asks for the same key meanwhile waits and shares
 * its result (invariant 5, "work is done once"). */
#ifndef HLSFS_FLIGHT_H
#define HLSFS_FLIGHT_H

#include <pthread.h>
#include <stdbool.h>

struct flight;

/* The flights of one kind of work. Its lock is a leaf: held only inside these functions, never
 * while calling out, so it can be taken under any other lock. */
struct flight_set {
	pthread_mutex_t lock;
	pthread_cond_t landed;
	struct flight *head;
};

#define FLIGHT_SET_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL }

/* Takes off with key, or waits for the flight of key that is under way. Returns 1 with *mine
 * when the caller is to do the work and then flight_land it; 0 with *result (what the other
 * caller landed with) after waiting; -ENOMEM. */
int flight_join(struct flight_set *fs, const char *key, struct flight **mine, int *result);

/* Takes off with key only when no flight of key is under way; never waits. Returns 1 with *mine,
 * 0 when one is under way, -ENOMEM. */
int flight_try(struct flight_set *fs, const char *key, struct flight **mine);

/* Ends the caller's flight with result, which every waiter gets; f is freed by the last of them.
 * NULL is fine. */
void flight_land(struct flight_set *fs, struct flight *f, int result);

/* Whether a flight of key is under way now. */
bool flight_busy(struct flight_set *fs, const char *key);

#endif
