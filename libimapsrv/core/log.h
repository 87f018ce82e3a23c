/* Logging through the host's hook.  Lines are formatted here, once, and only
 * when the level passes, so a disabled debug line costs one comparison.
 * Callers never pass secrets: passwords and keys are not loggable values. */
#ifndef IMAPSRV_CORE_LOG_H
#define IMAPSRV_CORE_LOG_H

#include "imapsrv.h"

struct log {
    imapsrv_log_fn fn;
    void *userdata;
    imapsrv_log_level level;
};

#define log_enabled(lg, lvl) ((lg)->fn && (lvl) <= (lg)->level)

void log_line(const struct log *lg, imapsrv_log_level level, const char *event,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
