/* src/host/optval.h: swtpm's name=value,name option syntax. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "optval.h"

static const char *const names[] = { "type", "path", "mode", "terminate", "fd", "level", "port", NULL };

static void test_name_value_and_bare(void **state)
{
    struct optval o;
    char why[256] = "";
    assert_int_equal(optval_parse("type=unixio,path=/run/x.sock,mode=0600,terminate", names, &o,
                                  why, sizeof why), SVTPM_OK);
    assert_int_equal(o.n, 4);
    assert_string_equal(optval_get(&o, "type"), "unixio");
    assert_string_equal(optval_get(&o, "path"), "/run/x.sock");
    assert_string_equal(optval_get(&o, "mode"), "0600");
    assert_true(optval_has(&o, "terminate"));
    assert_string_equal(optval_get(&o, "terminate"), "");   /* bare: present, no value */
    assert_null(o.kv[3].value);
    assert_false(optval_has(&o, "fd"));
    assert_null(optval_get(&o, "fd"));
    assert_null(optval_get(&o, "nosuch"));
    optval_free(&o);
    assert_null(o.buf);
    assert_int_equal(o.n, 0);
}

static void test_values_keep_equals(void **state)
{
    struct optval o;
    char why[256];
    assert_int_equal(optval_parse("path=/a=b/c", names, &o, why, sizeof why), SVTPM_OK);
    assert_string_equal(optval_get(&o, "path"), "/a=b/c");
    optval_free(&o);
    /* empty value */
    assert_int_equal(optval_parse("path=", names, &o, why, sizeof why), SVTPM_OK);
    assert_true(optval_has(&o, "path"));
    assert_string_equal(optval_get(&o, "path"), "");
    optval_free(&o);
    /* empty string and stray commas: nothing */
    assert_int_equal(optval_parse("", names, &o, why, sizeof why), SVTPM_OK);
    assert_int_equal(o.n, 0);
    optval_free(&o);
    assert_int_equal(optval_parse(",,type=x,,", names, &o, why, sizeof why), SVTPM_OK);
    assert_int_equal(o.n, 1);
    assert_string_equal(optval_get(&o, "type"), "x");
    optval_free(&o);
}

static void test_last_occurrence_wins(void **state)
{
    struct optval o;
    char why[256];
    assert_int_equal(optval_parse("path=/a,path=/b,terminate=false,terminate", names, &o, why, sizeof why),
                     SVTPM_OK);
    assert_string_equal(optval_get(&o, "path"), "/b");
    assert_true(optval_bool(&o, "terminate"));
    optval_free(&o);
    assert_int_equal(optval_parse("terminate,terminate=0", names, &o, why, sizeof why), SVTPM_OK);
    assert_false(optval_bool(&o, "terminate"));
    optval_free(&o);
}

static void test_unknown_rejected(void **state)
{
    const char *bad[] = { "nosuch=1", "type=x,Path=/y", "paths=/x", "=x", "typ", "type=x,mode=1,extra" };
    const char *culprit[] = { "nosuch", "Path", "paths", "''", "typ", "extra" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct optval o;
        char why[256] = "";
        svtpm_err e = optval_parse(bad[i], names, &o, why, sizeof why);
        if (e != SVTPM_E_INVAL)
            fail_msg("'%s' accepted", bad[i]);
        /* the message names the offending parameter */
        if (!strstr(why, culprit[i]))
            fail_msg("'%s': message '%s' does not name '%s'", bad[i], why, culprit[i]);
        assert_null(o.buf);     /* freed on error */
        assert_int_equal(o.n, 0);
    }
}

static void test_too_many(void **state)
{
    char s[1024] = "";
    for (int i = 0; i < OPTVAL_MAX; i++)
        strcat(s, i ? ",type=x" : "type=x");
    struct optval o;
    char why[256];
    assert_int_equal(optval_parse(s, names, &o, why, sizeof why), SVTPM_OK);
    assert_int_equal(o.n, OPTVAL_MAX);
    optval_free(&o);
    strcat(s, ",type=y");
    assert_int_equal(optval_parse(s, names, &o, why, sizeof why), SVTPM_E_TOOBIG);
    assert_null(o.buf);
}

static void test_booleans(void **state)
{
    static const struct { const char *s; bool v; } cases[] = {
        { "terminate", true },
        { "terminate=true", true },
        { "terminate=TRUE", true },
        { "terminate=True", true },
        { "terminate=1", true },
        { "terminate=false", false },
        { "terminate=FALSE", false },
        { "terminate=0", false },
        { "terminate=yes", false },
        { "terminate=2", false },
        { "terminate=", false },
        { "terminate=truee", false },
        { "terminate=11", false },
        { "type=x", false },          /* absent */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct optval o;
        char why[256];
        assert_int_equal(optval_parse(cases[i].s, names, &o, why, sizeof why), SVTPM_OK);
        if (optval_bool(&o, "terminate") != cases[i].v)
            fail_msg("'%s': expected %s", cases[i].s, cases[i].v ? "true" : "false");
        optval_free(&o);
    }
}

static void test_modes(void **state)
{
    static const struct { const char *v; svtpm_err e; mode_t m; } cases[] = {
        { "0600", SVTPM_OK, 0600 },
        { "600", SVTPM_OK, 0600 },
        { "0777", SVTPM_OK, 0777 },
        { "777", SVTPM_OK, 0777 },
        { "0", SVTPM_OK, 0 },
        { "0640", SVTPM_OK, 0640 },
        { "00600", SVTPM_OK, 0600 },
        { "0800", SVTPM_E_INVAL, 0 },
        { "0609", SVTPM_E_INVAL, 0 },
        { "1000", SVTPM_E_INVAL, 0 },
        { "4755", SVTPM_E_INVAL, 0 },
        { "-1", SVTPM_E_INVAL, 0 },
        { "-0600", SVTPM_E_INVAL, 0 },
        { "", SVTPM_E_INVAL, 0 },
        { "rw", SVTPM_E_INVAL, 0 },
        { "0600x", SVTPM_E_INVAL, 0 },
        { "99999999999999999999999", SVTPM_E_INVAL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[64];
        snprintf(s, sizeof s, "mode=%s", cases[i].v);
        struct optval o;
        char why[256];
        assert_int_equal(optval_parse(s, names, &o, why, sizeof why), SVTPM_OK);
        mode_t m = 01234;
        svtpm_err e = optval_mode(&o, "mode", &m);
        if (e != cases[i].e)
            fail_msg("mode '%s': %s", cases[i].v, svtpm_strerror(e));
        if (e == SVTPM_OK && m != cases[i].m)
            fail_msg("mode '%s': got 0%o", cases[i].v, (unsigned)m);
        if (e != SVTPM_OK)
            assert_int_equal(m, 01234);   /* untouched on error */
        optval_free(&o);
    }
    /* bare or absent */
    struct optval o;
    char why[256];
    mode_t m;
    assert_int_equal(optval_parse("mode,type=x", names, &o, why, sizeof why), SVTPM_OK);
    assert_int_equal(optval_mode(&o, "mode", &m), SVTPM_E_INVAL);
    assert_int_equal(optval_mode(&o, "path", &m), SVTPM_E_INVAL);
    optval_free(&o);
}

static void test_uints(void **state)
{
    static const struct { const char *v; unsigned long max; svtpm_err e; unsigned long x; } cases[] = {
        { "0", 100, SVTPM_OK, 0 },
        { "100", 100, SVTPM_OK, 100 },
        { "101", 100, SVTPM_E_INVAL, 0 },
        { "65535", 65535, SVTPM_OK, 65535 },
        { "65536", 65535, SVTPM_E_INVAL, 0 },
        { "4294967295", 4294967295ul, SVTPM_OK, 4294967295ul },
        { "4294967296", 4294967295ul, SVTPM_E_INVAL, 0 },
        { "-1", 65535, SVTPM_E_INVAL, 0 },
        { " -1", 65535, SVTPM_E_INVAL, 0 },
        { "", 100, SVTPM_E_INVAL, 0 },
        { "12x", 100, SVTPM_E_INVAL, 0 },
        { "x12", 100, SVTPM_E_INVAL, 0 },
        { "0x10", 100, SVTPM_E_INVAL, 0 },
        { "99999999999999999999999", 65535, SVTPM_E_INVAL, 0 },
        { "010", 100, SVTPM_OK, 10 },   /* decimal, not octal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[64];
        snprintf(s, sizeof s, "port=%s", cases[i].v);
        struct optval o;
        char why[256];
        assert_int_equal(optval_parse(s, names, &o, why, sizeof why), SVTPM_OK);
        unsigned long x = 777;
        svtpm_err e = optval_uint(&o, "port", cases[i].max, &x);
        if (e != cases[i].e)
            fail_msg("uint '%s' (max %lu): %s", cases[i].v, cases[i].max, svtpm_strerror(e));
        if (e == SVTPM_OK && x != cases[i].x)
            fail_msg("uint '%s': got %lu", cases[i].v, x);
        if (e != SVTPM_OK)
            assert_int_equal(x, 777);
        optval_free(&o);
    }
    struct optval o;
    char why[256];
    unsigned long x;
    assert_int_equal(optval_parse("port", names, &o, why, sizeof why), SVTPM_OK);
    assert_int_equal(optval_uint(&o, "port", 10, &x), SVTPM_E_INVAL);
    assert_int_equal(optval_uint(&o, "level", 10, &x), SVTPM_E_INVAL);
    optval_free(&o);
}

static void test_one(void **state)
{
    (void)state;
    char why[256], *v = NULL;
    assert_int_equal(optval_one("dir=/a", "dir", &v, why, sizeof why), SVTPM_OK);
    assert_string_equal(v, "/a");
    assert_int_equal(optval_one("dir=/b", "dir", &v, why, sizeof why), SVTPM_OK);   /* replaces */
    assert_string_equal(v, "/b");
    assert_int_equal(optval_one("dir=", "dir", &v, why, sizeof why), SVTPM_E_NOTFOUND);
    assert_int_equal(optval_one("dir", "dir", &v, why, sizeof why), SVTPM_E_NOTFOUND);
    assert_int_equal(optval_one("path=/c", "dir", &v, why, sizeof why), SVTPM_E_INVAL);
    assert_non_null(strstr(why, "path"));
    assert_string_equal(v, "/b");   /* untouched by a refusal */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_value_and_bare),
        cmocka_unit_test(test_values_keep_equals),
        cmocka_unit_test(test_last_occurrence_wins),
        cmocka_unit_test(test_unknown_rejected),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_uints),
        cmocka_unit_test(test_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
