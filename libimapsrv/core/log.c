#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

void log_line(const struct log *lg, imapsrv_log_level level, const char *event,
              const char *fmt, ...)
{
    if (!log_enabled(lg, level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* A line is one line: control characters from peers never split it. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    lg->fn(lg->userdata, level, event, line);
}
