/*
 * invoice_num.c — formatting and strict parsing of invoice numbers (see
 * invoice_num.h). Parsing accepts exactly what formatting produces, so a
 * number has one spelling and can be used as a key.
 */
#include "invoice_num.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int invnum_format(int year, int64_t seq, char *buf, size_t n)
{
    if (year < INVNUM_MIN_YEAR || year > INVNUM_MAX_YEAR || seq < 1 || seq > INVNUM_MAX_SEQ)
        return -EINVAL;
    int w = snprintf(buf, n, "%04d-%04" PRId64, year, seq);
    if (w < 0 || (size_t)w >= n)
        return -ENAMETOOLONG;
    return 0;
}

int invnum_parse(const char *s, int *year, int64_t *seq)
{
    int y = 0;
    int64_t q = 0;
    size_t len = strlen(s), digits;

    if (len < 9 || len > 13 || s[4] != '-')
        return -EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        y = y * 10 + (s[i] - '0');
    }
    digits = len - 5;
    for (size_t i = 5; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        q = q * 10 + (s[i] - '0');
    }
    /* Only the padding to four digits may be zeros: "2026-00001" is not canonical. */
    if (digits > 4 && s[5] == '0')
        return -EINVAL;
    if (y < INVNUM_MIN_YEAR || y > INVNUM_MAX_YEAR || q < 1 || q > INVNUM_MAX_SEQ)
        return -EINVAL;
    *year = y;
    *seq = q;
    return 0;
}

int invnum_year(time_t now)
{
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL)
        return INVNUM_MIN_YEAR;
    return tm.tm_year + 1900;
}
