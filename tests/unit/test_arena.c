/* Arena: alignment, growth, limits, reset keeps the first block. */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

START_TEST(aligned_and_distinct)
{
    struct arena a;
    arena_init(&a, 64, 0);
    char *prev = NULL;
    for (size_t n = 1; n < 300; n += 7) {
        char *p = arena_alloc(&a, n);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xab, n); /* ASan/valgrind catch overlaps and overruns */
        ck_assert(p != prev);
        prev = p;
    }
    arena_free(&a);
}
END_TEST

START_TEST(strndup_and_zalloc)
{
    struct arena a;
    arena_init(&a, 16, 0);
    char *s = arena_strndup(&a, "hello world", 5);
    ck_assert_str_eq(s, "hello");
    unsigned char *z = arena_zalloc(&a, 100);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(z[i], 0);
    ck_assert_str_eq(arena_strndup(&a, "", 0), "");
    arena_free(&a);
}
END_TEST

START_TEST(limit_refuses)
{
    struct arena a;
    arena_init(&a, 64, 256);
    ck_assert_ptr_nonnull(arena_alloc(&a, 200));
    ck_assert_ptr_null(arena_alloc(&a, 100));
    ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX));
    arena_reset(&a);
    ck_assert_ptr_nonnull(arena_alloc(&a, 200));
    arena_free(&a);
}
END_TEST

START_TEST(reset_reuses_first_block)
{
    struct arena a;
    arena_init(&a, 128, 0);
    char *first = arena_alloc(&a, 8);
    for (int i = 0; i < 100; i++)
        ck_assert_ptr_nonnull(arena_alloc(&a, 1000));
    arena_reset(&a);
    ck_assert_uint_eq(a.used, 0);
    ck_assert_ptr_eq(arena_alloc(&a, 8), first);
    arena_free(&a);
    ck_assert_ptr_null(a.head);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, aligned_and_distinct);
    tcase_add_test(tc, strndup_and_zalloc);
    tcase_add_test(tc, limit_refuses);
    tcase_add_test(tc, reset_reuses_first_block);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
