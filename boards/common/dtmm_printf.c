/*
 * dtmm_printf.c - a small printf over dtmm_board_putc().
 *
 * Firmware avoids newlib's stdio: it would pull in a heap and tens of
 * kilobytes of code that distort flash figures.  This covers what our apps
 * print: integers (32/64-bit), strings, characters.
 */
#include "dtmm_board.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int left;       /* '-' flag */
    char pad;       /* ' ' or '0' */
    int width;
    int count;      /* characters written so far */
    char *buf;      /* NULL: to the console; else into buf[0, cap - 1], NUL-terminated */
    size_t cap;
} fmt_state;

static void emit(fmt_state *st, char c)
{
    if (st->buf == NULL) {
        dtmm_board_putc(c);
    } else if ((size_t)st->count + 1u < st->cap) {
        st->buf[st->count] = c;
    }
    st->count++;
}

static void emit_padded(fmt_state *st, const char *s, int len, int negative)
{
    int total = len + (negative ? 1 : 0);
    int fill = st->width > total ? st->width - total : 0;
    if (!st->left && st->pad == ' ') {
        while (fill-- > 0) emit(st, ' ');
    }
    if (negative) emit(st, '-');
    if (!st->left && st->pad == '0') {
        while (fill-- > 0) emit(st, '0');
    }
    for (int i = 0; i < len; i++) emit(st, s[i]);
    if (st->left) {
        while (fill-- > 0) emit(st, ' ');
    }
}

static void emit_unsigned(fmt_state *st, uint64_t v, unsigned base, int upper, int negative)
{
    char buf[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        buf[sizeof buf - 1 - n] = digits[v % base];
        v /= base;
        n++;
    } while (v != 0);
    emit_padded(st, &buf[sizeof buf - n], n, negative);
}

static int format(fmt_state st, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            emit(&st, *p);
            continue;
        }
        p++;
        st.left = 0;
        st.pad = ' ';
        st.width = 0;
        for (;; p++) {
            if (*p == '-') st.left = 1;
            else if (*p == '0') st.pad = '0';
            else break;
        }
        while (*p >= '0' && *p <= '9') st.width = st.width * 10 + (*p++ - '0');
        int longs = 0;
        int size_t_arg = 0;
        while (*p == 'l') { longs++; p++; }
        if (*p == 'z') { size_t_arg = 1; p++; }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v;
            if (longs >= 2) v = va_arg(ap, long long);
            else if (longs == 1) v = va_arg(ap, long);
            else v = va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            emit_unsigned(&st, mag, 10, 0, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v;
            if (longs >= 2) v = va_arg(ap, unsigned long long);
            else if (longs == 1) v = va_arg(ap, unsigned long);
            else if (size_t_arg) v = va_arg(ap, size_t);
            else v = va_arg(ap, unsigned int);
            emit_unsigned(&st, v, *p == 'u' ? 10 : 16, *p == 'X', 0);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit_padded(&st, &c, 1, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) s = "(null)";
            int len = 0;
            while (s[len]) len++;
            emit_padded(&st, s, len, 0);
            break;
        }
        case '%':
            emit(&st, '%');
            break;
        case '\0':
            p--; /* a '%' ending the format: stop at the terminator */
            break;
        default:
            emit(&st, '%');
            emit(&st, *p);
            break;
        }
    }
    if (st.buf != NULL && st.cap > 0u) {
        st.buf[(size_t)st.count < st.cap ? (size_t)st.count : st.cap - 1u] = '\0';
    }
    return st.count;
}

int dtmm_vprintf(const char *fmt, va_list ap)
{
    fmt_state st = {0, ' ', 0, 0, NULL, 0u};
    return format(st, fmt, ap);
}

int dtmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    fmt_state st = {0, ' ', 0, 0, buf, buf != NULL ? size : 0u};
    return format(st, fmt, ap);
}

int dtmm_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = dtmm_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void dtmm_puts(const char *s)
{
    while (*s) dtmm_board_putc(*s++);
    dtmm_board_putc('\n');
}
