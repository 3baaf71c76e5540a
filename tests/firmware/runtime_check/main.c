/*
 * runtime_check - what C++ apps (the TFLM app) need of the board runtime:
 * constructors run before main(), after the console is up, and dtmm_vsnprintf
 * formats into a buffer, truncating with a NUL and returning the full length.
 */
#include <stdarg.h>
#include <string.h>

#include "dtmm_board.h"

static int constructed;

__attribute__((constructor)) static void set_constructed(void)
{
    constructed = 42;
    dtmm_printf("constructor ran\n");
}

static int format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = dtmm_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int main(void)
{
    char buf[8];
    memset(buf, 'x', sizeof buf);
    int full = format(buf, sizeof buf, "v=%d %s", -1234, "abc");
    dtmm_printf("constructed %d\n", constructed);
    dtmm_printf("vsnprintf %d [%s]\n", full, buf);
    int small = format(buf, sizeof buf, "%u%%", 7u);
    dtmm_printf("vsnprintf %d [%s]\n", small, buf);
    int zero = format(buf, 0, "%d", 5);
    dtmm_printf("vsnprintf %d %c\n", zero, buf[0]);
    return 0;
}
