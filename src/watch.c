/* inotify watches on recordings being written (watch.h): one inotify descriptor, one thread
 * reading its events into a small table of watched files, and a pipe that wakes the thread to
 * stop. The table is a plain array: few files are written at once. */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

#define WATCH_MAX 1024
#define WATCH_EVENTS (IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

struct watched {
	int wd;
	uint64_t dev, ino;
	enum watch_state state;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct watched table[WATCH_MAX];
static unsigned nb_watched;
static int ifd = -1, wake[2] = { -1, -1 };
static bool started, failed;
static pthread_t thread;

/* With the lock held. */
static struct watched *by_wd(int wd)
{
	for (unsigned i = 0; i < nb_watched; i++)
		if (table[i].wd == wd)
			return &table[i];
	return NULL;
}

static struct watched *by_file(uint64_t dev, uint64_t ino)
{
	for (unsigned i = 0; i < nb_watched; i++)
		if (table[i].dev == dev && table[i].ino == ino)
			return &table[i];
	return NULL;
}

static void *watch_thread(void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = ifd, .events = POLLIN }, { .fd = wake[0], .events = POLLIN } };
		ssize_t n;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if ((n = read(ifd, buf, sizeof(buf))) <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			break;
		}
		pthread_mutex_lock(&lock);
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			struct watched *w = by_wd(ev->wd);
			if (w && (ev->mask & IN_IGNORED)) {
				*w = table[--nb_watched];  /* the file is gone or the watch dropped */
			} else if (w) {
				/* A close after the last write means the writer is done; a write after a
				 * close, that another writer took over. */
				if (ev->mask & IN_MODIFY)
					w->state = WATCH_WRITING;
				if (ev->mask & IN_CLOSE_WRITE)
					w->state = WATCH_CLOSED;
			}
			q += sizeof(*ev) + ev->len;
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* With the lock held. */
static int start(void)
{
	if (started)
		return 0;
	if (failed)
		return -ENOSYS;
	if ((ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 || pipe2(wake, O_CLOEXEC) < 0 ||
	    pthread_create(&thread, NULL, watch_thread, NULL) != 0) {
		int err = errno ? errno : EAGAIN;
		log_warn("cannot watch files being written (%s); they end after growing_idle seconds of quiet",
			 strerror(err));
		if (ifd >= 0)
			close(ifd);
		for (int i = 0; i < 2; i++)
			if (wake[i] >= 0)
				close(wake[i]);
		ifd = wake[0] = wake[1] = -1;
		failed = true;
		return -err;
	}
	started = true;
	return 0;
}

int watch_file(const char *path, uint64_t dev, uint64_t ino)
{
	int ret = 0, wd;

	pthread_mutex_lock(&lock);
	if (by_file(dev, ino))
		goto out;
	if ((ret = start()) < 0)
		goto out;
	if (nb_watched == WATCH_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	/* The path was just resolved beneath the source root; a watch reads no bytes. */
	if ((wd = inotify_add_watch(ifd, path, WATCH_EVENTS | IN_DONT_FOLLOW)) < 0) {
		ret = -errno;
		goto out;
	}
	if (by_wd(wd)) {  /* the same inode under another name */
		by_wd(wd)->dev = dev;
		by_wd(wd)->ino = ino;
		goto out;
	}
	table[nb_watched++] = (struct watched){ .wd = wd, .dev = dev, .ino = ino };
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

enum watch_state watch_state(uint64_t dev, uint64_t ino)
{
	struct watched *w;
	enum watch_state st;

	pthread_mutex_lock(&lock);
	st = (w = by_file(dev, ino)) ? w->state : WATCH_UNKNOWN;
	pthread_mutex_unlock(&lock);
	return st;
}

void watch_shutdown(void)
{
	pthread_mutex_lock(&lock);
	if (!started) {
		pthread_mutex_unlock(&lock);
		return;
	}
	started = false;
	pthread_mutex_unlock(&lock);
	if (write(wake[1], "x", 1) < 0) {
		/* the pipe is ours and empty: cannot fail */
	}
	pthread_join(thread, NULL);
	close(ifd);
	close(wake[0]);
	close(wake[1]);
	ifd = wake[0] = wake[1] = -1;
	nb_watched = 0;
}
