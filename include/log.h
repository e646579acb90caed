/* Logging: one line per event, to stderr in the foreground and to syslog once daemonized.
 * Failures name the file they concern; nothing is printed while all is well unless -d. */
#ifndef HLSFS_LOG_H
#define HLSFS_LOG_H

#include <stdbool.h>

/* Sends later lines to syslog (after daemonizing) instead of stderr. */
void log_use_syslog(bool on);
/* Enables debug lines. */
void log_set_debug(bool on);
bool log_debug_enabled(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
