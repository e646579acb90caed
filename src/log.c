/* Logging: one line per event, "hlsfs: " on stderr or syslog's own prefix.
 * Lines are written with a single write so concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

static bool use_syslog;
static bool debug_on;

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("hlsfs", LOG_PID, LOG_DAEMON);
	use_syslog = on;
}

void log_set_debug(bool on) { debug_on = on; }
bool log_debug_enabled(void) { return debug_on; }

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (use_syslog) {
		vsyslog(prio, fmt, ap);
		return;
	}
	n = snprintf(line, sizeof(line), "hlsfs: ");
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	if (!debug_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}
