/* Watching local files being written (inotify): learns at once when a writer closes a file, so
 * that a recording ends as soon as its writer is done rather than after growing_idle seconds of
 * quiet. Only media.c asks; the answer is a hint, the idle timer the fallback. */
#ifndef HLSFS_WATCH_H
#define HLSFS_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* Starts watching the file at path (device dev, inode ino) for writes and for its writer's close;
 * does nothing when it is watched already. Starts the watching thread on first use. Returns 0, or
 * a negative errno (inotify unavailable, too many watches: the idle timer alone then tells). */
int watch_file(const char *path, uint64_t dev, uint64_t ino);
enum watch_state {
	WATCH_UNKNOWN,   /* not watched, or nothing happened to it since it is */
	WATCH_WRITING,   /* written since it is watched, and not closed by its writer since: a writer
	                    holds it open (its close, even at its exit, would have been seen) */
	WATCH_CLOSED,    /* its writer closed it (IN_CLOSE_WRITE) and nothing was written since */
};

/* What the watch of the file says. */
enum watch_state watch_state(uint64_t dev, uint64_t ino);
/* Stops the thread and drops every watch (at unmount). Safe when nothing was started. */
void watch_shutdown(void);

#endif
