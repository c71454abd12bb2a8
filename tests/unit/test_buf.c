/* Unit tests for lib/buf: the ceiling, consume and take. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/buf.h"

static void test_buf_append_past_ceiling_is_e2big(void **state)
{
    struct buf b;

    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345"), 0);
    assert_int_equal(buf_append_str(&b, "6789"), -E2BIG);
    assert_string_equal(buf_str(&b), "12345");
    assert_int_equal(buf_append_str(&b, "678"), 0);
    assert_int_equal(buf_len(&b), 8);
    buf_done(&b);
}

static void test_buf_consume_keeps_tail(void **state)
{
    struct buf b;

    buf_init(&b, 64);
    assert_int_equal(buf_printf(&b, "line1\n%s", "line2"), 0);
    buf_consume(&b, 6);
    assert_string_equal(buf_str(&b), "line2");
    buf_consume(&b, 100);
    assert_int_equal(buf_len(&b), 0);
    buf_done(&b);
}

static void test_buf_take_empty_gives_empty_string(void **state)
{
    struct buf b;
    char *s;

    buf_init(&b, 64);
    s = buf_take(&b);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(buf_append_str(&b, "x\r\n"), 0);
    buf_trim_newline(&b);
    s = buf_take(&b);
    assert_string_equal(s, "x");
    assert_int_equal(buf_len(&b), 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_past_ceiling_is_e2big),
        cmocka_unit_test(test_buf_consume_keeps_tail),
        cmocka_unit_test(test_buf_take_empty_gives_empty_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
