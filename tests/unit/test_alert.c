/*
 * test_alert.c — the alert state machine (aggregator/alert/alert.c): `for`,
 * severities, hysteresis, no data, flapping, and peak-day factors.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alert.h"

#define S 1000000LL

static const alert_params_t lag = {.op = ALERT_OP_GT, .warning = 5, .critical = 30, .clear = 3,
                                   .for_us = 10 * S, .flap_transitions = 4, .flap_window_us = 60 * S};

static alert_transition_t at(alert_instance_t *a, const alert_params_t *p, double v, int64_t t)
{
    return alert_eval(a, p, true, v, 1.0, t);
}

static void test_pending_then_firing(void **state)
{
    (void)state;
    alert_instance_t a;
    alert_init(&a);
    alert_transition_t t = at(&a, &lag, 1, 0);
    assert_false(t.changed);
    t = at(&a, &lag, 6, 1 * S);
    assert_int_equal(t.to, ALERT_PENDING);
    assert_false(t.notify);
    t = at(&a, &lag, 7, 10 * S); /* 9 s: not yet */
    assert_int_equal(a.state, ALERT_PENDING);
    t = at(&a, &lag, 7, 11 * S);
    assert_int_equal(t.from, ALERT_PENDING);
    assert_int_equal(t.to, ALERT_FIRING);
    assert_int_equal(t.severity, ALERT_SEV_WARNING);
    assert_true(t.notify);
    t = at(&a, &lag, 8, 12 * S); /* still firing, same severity: nothing new */
    assert_false(t.changed);
    assert_false(t.notify);
}

static void test_pending_that_goes_away_is_silent(void **state)
{
    (void)state;
    alert_instance_t a;
    alert_init(&a);
    at(&a, &lag, 6, 0);
    alert_transition_t t = at(&a, &lag, 2, 5 * S);
    assert_int_equal(t.to, ALERT_INACTIVE);
    assert_false(t.notify);
    at(&a, &lag, 6, 6 * S); /* the clock restarts */
    t = at(&a, &lag, 6, 15 * S);
    assert_int_equal(a.state, ALERT_PENDING);
    t = at(&a, &lag, 6, 16 * S);
    assert_int_equal(t.to, ALERT_FIRING);
}

static void test_severity_and_hysteresis(void **state)
{
    (void)state;
    alert_instance_t a;
    alert_init(&a);
    alert_params_t p = lag;
    p.for_us = 0;
    alert_transition_t t = at(&a, &p, 40, 0); /* fires at once, critical */
    assert_int_equal(t.to, ALERT_FIRING);
    assert_int_equal(t.severity, ALERT_SEV_CRITICAL);
    assert_true(t.notify);
    t = at(&a, &p, 10, 1 * S); /* de-escalates */
    assert_int_equal(t.severity, ALERT_SEV_WARNING);
    assert_true(t.changed && t.notify);
    t = at(&a, &p, 4, 2 * S); /* below warning, above clear: stays firing */
    assert_int_equal(a.state, ALERT_FIRING);
    assert_false(t.changed);
    t = at(&a, &p, 3, 3 * S); /* at clear: resolved */
    assert_int_equal(t.to, ALERT_RESOLVED);
    assert_true(t.notify);
    t = at(&a, &p, 4, 4 * S); /* above clear but not above warning: nothing */
    assert_int_equal(a.state, ALERT_RESOLVED);
    assert_false(t.changed);
}

static void test_no_data_never_resolves(void **state)
{
    (void)state;
    alert_instance_t a;
    alert_init(&a);
    alert_params_t p = lag;
    p.for_us = 0;
    at(&a, &p, 10, 0);
    alert_transition_t t = alert_eval(&a, &p, false, NAN, 1.0, 1 * S);
    assert_int_equal(t.to, ALERT_NODATA);
    assert_true(t.notify);
    t = alert_eval(&a, &p, false, NAN, 1.0, 100 * S);
    assert_int_equal(a.state, ALERT_NODATA);
    assert_false(t.changed);
    t = at(&a, &p, 12, 101 * S); /* back, still bad: firing again, no new notice */
    assert_int_equal(t.to, ALERT_FIRING);
    assert_false(t.notify);
    alert_eval(&a, &p, false, NAN, 1.0, 102 * S);
    t = at(&a, &p, 1, 103 * S); /* back and fine: resolved, announced */
    assert_int_equal(t.from, ALERT_NODATA);
    assert_int_equal(t.to, ALERT_RESOLVED);
    assert_true(t.notify);
    /* no data on an inactive alert changes nothing */
    alert_init(&a);
    t = alert_eval(&a, &p, false, NAN, 1.0, 0);
    assert_false(t.changed);
}

static void test_flapping_sends_one_notice(void **state)
{
    (void)state;
    alert_instance_t a;
    alert_init(&a);
    alert_params_t p = lag;
    p.for_us = 0;
    int notices = 0, started = 0;
    for (int i = 0; i < 20; i++) { /* bad, good, bad, good... one per second */
        alert_transition_t t = at(&a, &p, i % 2 == 0 ? 10 : 1, i * S);
        notices += t.notify;
        started += t.flapping_started;
    }
    assert_int_equal(started, 1);
    assert_int_equal(notices, 4); /* the transitions before it was called flapping */
    assert_true(a.flapping);
    /* quiet for a whole window: flapping ends, notices resume */
    alert_transition_t t = at(&a, &p, 1, 100 * S);
    assert_true(t.flapping_ended);
    t = at(&a, &p, 10, 101 * S);
    assert_true(t.notify);
}

static void test_peak_factor(void **state)
{
    (void)state;
    alert_params_t p = lag;
    assert_true(alert_threshold(&p, ALERT_SEV_WARNING, 0.5) == 2.5);
    assert_true(alert_threshold(&p, ALERT_SEV_CRITICAL, 0.5) == 15);
    assert_int_equal(alert_severity_of(&p, 4, 1.0), ALERT_SEV_NONE);
    assert_int_equal(alert_severity_of(&p, 4, 0.5), ALERT_SEV_WARNING); /* stricter on peak */
    assert_int_equal(alert_severity_of(&p, 20, 0.5), ALERT_SEV_CRITICAL);
    alert_params_t lt = {.op = ALERT_OP_LT, .warning = 10, .critical = 3, .clear = NAN};
    assert_true(alert_threshold(&lt, ALERT_SEV_WARNING, 0.5) == 20);
    assert_int_equal(alert_severity_of(&lt, 15, 1.0), ALERT_SEV_NONE);
    assert_int_equal(alert_severity_of(&lt, 15, 0.5), ALERT_SEV_WARNING);
    assert_int_equal(alert_severity_of(&lt, 2, 1.0), ALERT_SEV_CRITICAL);
    assert_true(alert_threshold(&lt, ALERT_SEV_WARNING, 1.0) == 10);
    assert_true(alert_threshold(&lt, ALERT_SEV_WARNING, 0) == 10); /* nonsense factor: unchanged */
    /* a less-than alert clears at its warning threshold when no clear is set */
    alert_instance_t a;
    alert_init(&a);
    alert_eval(&a, &lt, true, 5, 1.0, 0);
    alert_transition_t t = alert_eval(&a, &lt, true, 10, 1.0, 1 * S);
    assert_int_equal(t.to, ALERT_RESOLVED);
    assert_string_equal(alert_state_name(ALERT_NODATA), "nodata");
    assert_string_equal(alert_severity_name(ALERT_SEV_CRITICAL), "critical");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_then_firing),
        cmocka_unit_test(test_pending_that_goes_away_is_silent),
        cmocka_unit_test(test_severity_and_hysteresis),
        cmocka_unit_test(test_no_data_never_resolves),
        cmocka_unit_test(test_flapping_sends_one_notice),
        cmocka_unit_test(test_peak_factor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
