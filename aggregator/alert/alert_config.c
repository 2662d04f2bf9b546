/*
 * alert_config.c — parse the alerting part of the aggregator's configuration
 * (see alert_config.h).
 */
#include "alert_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "calendar.h"
#include "config.h"

static char *ac_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A secret from KEY, KEY_file or KEY_env (at most one of them). */
static int ac_secret(config_t *cfg, const config_node_t *map, const char *key, bool required, char **out)
{
    char kf[64], ke[64];
    snprintf(kf, sizeof kf, "%s_file", key);
    snprintf(ke, sizeof ke, "%s_env", key);
    const char *inline_v = NULL, *file = NULL, *env = NULL;
    if (config_str(cfg, map, key, false, &inline_v) != 0 || config_str(cfg, map, kf, false, &file) != 0 ||
        config_str(cfg, map, ke, false, &env) != 0)
        return -1;
    int given = (inline_v != NULL) + (file != NULL) + (env != NULL);
    if (given > 1)
        return config_fail(cfg, map, key, "expected only one of %s, %s and %s", key, kf, ke);
    if (given == 0) {
        if (required)
            return config_fail(cfg, map, key, "expected %s, %s (a file holding it) or %s (an environment "
                                              "variable holding it)", key, kf, ke);
        return 0;
    }
    if (inline_v) {
        *out = strdup(inline_v);
        return 0;
    }
    if (env) {
        const char *v = getenv(env);
        if (!v || !*v)
            return config_fail(cfg, map, ke, "expected the environment variable \"%s\" to be set", env);
        *out = strdup(v);
        return 0;
    }
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = f ? getline(&line, &cap, f) : -1;
    if (f)
        fclose(f);
    if (n <= 0) {
        free(line);
        return config_fail(cfg, map, kf, "expected a readable, non-empty file, got \"%s\"", file);
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *out = line;
    return 0;
}

static int ac_threshold(config_t *cfg, const config_node_t *map, const char *key, double *out)
{
    return config_double(cfg, map, key, false, -1e18, 1e18, out);
}

static alert_rule_t *ac_rule_by_name(alert_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->rule_count; i++)
        if (strcmp(c->rules[i].name, name) == 0)
            return &c->rules[i];
    return NULL;
}

/* The built-in rules: the catalogue's rows that name one (metric.h). */
static int ac_builtins(alert_config_t *c)
{
    size_t n = 0;
    if (!(c->rules = calloc(metric_count(), sizeof *c->rules)))
        return -1;
    for (size_t id = 0; id < metric_count(); id++) {
        const metric_rule_t *b = &metric_info((int)id)->rule;
        if (!b->name)
            continue;
        alert_rule_t *r = &c->rules[n++];
        r->name = strdup(b->name);
        r->metric = (int)id;
        r->params = (alert_params_t){.op = (alert_op_t)b->op, .warning = b->warning, .critical = b->critical,
                                     .clear = b->clear, .for_us = (int64_t)b->for_ms * 1000};
        r->roles = b->roles;
        r->summary = strdup(b->summary);
        r->peak_factor = b->peak_factor;
        r->enabled = true;
    }
    c->rule_count = n;
    return 0;
}

/* A rule's metric: any name of the catalogue (metric.h). */
static int ac_rule_metric(config_t *cfg, const config_node_t *item, const char *metric, alert_rule_t *r)
{
    int m = metric_find(metric);
    if (m < 0) {
        char known[4096] = "";
        for (size_t i = 0; i < metric_count(); i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, metric_info((int)i)->name, sizeof known - strlen(known) - 1);
        }
        return config_fail(cfg, item, "metric", "expected one of %s; got \"%s\"", known, metric);
    }
    r->metric = m;
    return 0;
}

static int ac_rule_roles(config_t *cfg, const config_node_t *item, const config_node_t *roles, alert_rule_t *r)
{
    r->roles = 0;
    for (size_t i = 0; i < config_seq_len(roles); i++) {
        const char *role = NULL;
        if (config_seq_str(cfg, roles, i, &role) != 0)
            return -1;
        if (strcmp(role, metric_role_name(PGVIGIL__ROLE__ROLE_PRIMARY)) == 0)
            r->roles |= ALERT_ROLE_PRIMARY;
        else if (strcmp(role, metric_role_name(PGVIGIL__ROLE__ROLE_REPLICA)) == 0)
            r->roles |= ALERT_ROLE_REPLICA;
        else
            return config_fail(cfg, item, "roles", "expected primary or replica, got \"%s\"", role);
    }
    if (!r->roles)
        return config_fail(cfg, item, "roles", "expected at least one of primary, replica");
    return 0;
}

static int ac_rule_labels(config_t *cfg, const config_node_t *item, const config_node_t *labels, alert_rule_t *r)
{
    size_t n = config_map_len(labels);
    r->label_keys = calloc(n ? n : 1, sizeof *r->label_keys);
    r->label_values = calloc(n ? n : 1, sizeof *r->label_values);
    if (!r->label_keys || !r->label_values)
        return config_fail(cfg, item, "labels", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *k = config_map_key(cfg, labels, i);
        const char *v = config_node_scalar(config_map_value(cfg, labels, i));
        if (!k || !v)
            return config_fail(cfg, item, "labels", "expected a mapping of label names to text");
        r->label_keys[i] = strdup(k);
        r->label_values[i] = strdup(v);
        r->label_count = i + 1;
    }
    return 0;
}

static int ac_rule(config_t *cfg, const config_node_t *item, alert_config_t *c)
{
    static const char *const keys[] = {"name", "metric", "op", "warning", "critical", "for", "clear", "roles",
                                       "labels", "summary", "peak_factor", "enabled", NULL};
    static const char *const ops[] = {">", "<", NULL};
    const char *name = NULL, *metric = NULL, *summary = NULL;
    if (config_expect_keys(cfg, item, keys) != 0 || config_str(cfg, item, "name", true, &name) != 0 ||
        config_str(cfg, item, "metric", false, &metric) != 0)
        return -1;
    alert_rule_t *r = ac_rule_by_name(c, name);
    if (!r) {
        if (!metric)
            return config_fail(cfg, item, "metric", "expected a metric for the new rule \"%s\"", name);
        alert_rule_t *grown = realloc(c->rules, (c->rule_count + 1) * sizeof *grown);
        if (!grown)
            return config_fail(cfg, item, "name", "out of memory");
        c->rules = grown;
        r = &c->rules[c->rule_count++];
        *r = (alert_rule_t){.name = strdup(name), .roles = ALERT_ROLE_PRIMARY | ALERT_ROLE_REPLICA,
                            .peak_factor = NAN, .enabled = true,
                            .params = {.op = ALERT_OP_GT, .warning = NAN, .critical = NAN, .clear = NAN}};
    }
    if (metric && ac_rule_metric(cfg, item, metric, r) != 0)
        return -1;
    int op = r->params.op == ALERT_OP_LT;
    uint64_t for_ms = (uint64_t)(r->params.for_us / 1000);
    const config_node_t *roles = NULL, *labels = NULL;
    if (config_enum(cfg, item, "op", false, ops, &op) != 0 ||
        ac_threshold(cfg, item, "warning", &r->params.warning) != 0 ||
        ac_threshold(cfg, item, "critical", &r->params.critical) != 0 ||
        ac_threshold(cfg, item, "clear", &r->params.clear) != 0 ||
        config_duration_ms(cfg, item, "for", false, &for_ms) != 0 ||
        config_str(cfg, item, "summary", false, &summary) != 0 ||
        config_double(cfg, item, "peak_factor", false, 0.01, 1, &r->peak_factor) != 0 ||
        config_bool(cfg, item, "enabled", false, &r->enabled) != 0 ||
        config_seq(cfg, item, "roles", false, &roles) != 0 || config_map(cfg, item, "labels", false, &labels) != 0)
        return -1;
    r->params.op = op ? ALERT_OP_LT : ALERT_OP_GT;
    r->params.for_us = (int64_t)for_ms * 1000;
    if (isnan(r->params.warning) && isnan(r->params.critical))
        return config_fail(cfg, item, "critical", "expected a warning or a critical threshold for rule \"%s\"",
                           name);
    if (!isnan(r->params.warning) && !isnan(r->params.critical) &&
        (r->params.op == ALERT_OP_GT ? r->params.critical < r->params.warning
                                     : r->params.critical > r->params.warning))
        return config_fail(cfg, item, "critical", "expected a critical threshold %s the warning threshold %g",
                           r->params.op == ALERT_OP_GT ? "at or above" : "at or below", r->params.warning);
    if (summary) {
        free(r->summary);
        r->summary = strdup(summary);
    }
    if ((roles && ac_rule_roles(cfg, item, roles, r) != 0) || (labels && ac_rule_labels(cfg, item, labels, r) != 0))
        return -1;
    if (!r->summary)
        r->summary = strdup("{rule} on {node}: {value}");
    return 0;
}

static int ac_rules(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    const config_node_t *seq = NULL;
    if (ac_builtins(c) != 0)
        return config_fail(cfg, root, "rules", "out of memory");
    if (config_seq(cfg, root, "rules", false, &seq) != 0)
        return -1;
    for (size_t i = 0; seq && i < config_seq_len(seq); i++)
        if (ac_rule(cfg, config_seq_at(cfg, seq, i), c) != 0)
            return -1;
    return 0;
}

static int ac_regions(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    static const char *const keys[] = {"timezone", NULL};
    const config_node_t *map = NULL;
    if (config_map(cfg, root, "regions", false, &map) != 0)
        return -1;
    size_t n = map ? config_map_len(map) : 0;
    if (!n)
        return 0;
    if (!(c->regions = calloc(n, sizeof *c->regions)))
        return config_fail(cfg, root, "regions", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const config_node_t *r = config_map_value(cfg, map, i);
        const char *tz = NULL;
        if (config_expect_keys(cfg, r, keys) != 0 || config_str(cfg, r, "timezone", true, &tz) != 0)
            return -1;
        if (!calendar_zone_valid(tz))
            return config_fail(cfg, r, "timezone", "expected an IANA time zone such as \"Europe/London\", got "
                                                   "\"%s\"", tz);
        c->regions[i].name = strdup(config_map_key(cfg, map, i));
        c->regions[i].timezone = strdup(tz);
        c->region_count = i + 1;
    }
    return 0;
}

static int ac_events_query(config_t *cfg, const config_node_t *peak, alert_config_t *c)
{
    static const char *const keys[] = {"dsn", "dsn_file", "dsn_env", "sql", "threshold", "interval", NULL};
    const config_node_t *eq = NULL;
    const char *sql = NULL;
    if (config_map(cfg, peak, "events_query", false, &eq) != 0)
        return -1;
    if (!eq)
        return 0;
    c->events_threshold = 1;
    c->events_interval_ms = 300000;
    if (config_expect_keys(cfg, eq, keys) != 0 || ac_secret(cfg, eq, "dsn", true, &c->events_dsn) != 0 ||
        config_str(cfg, eq, "sql", true, &sql) != 0 ||
        config_uint(cfg, eq, "threshold", false, 0, UINT32_MAX, &c->events_threshold) != 0 ||
        config_duration_ms(cfg, eq, "interval", false, &c->events_interval_ms) != 0)
        return -1;
    if (c->events_interval_ms < 1000)
        return config_fail(cfg, eq, "interval", "expected at least 1s");
    c->events_sql = strdup(sql);
    return 0;
}

static int ac_peak(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    static const char *const keys[] = {"days", "dates", "hours", "threshold_factor", "events_query", NULL};
    const config_node_t *peak = NULL, *days = NULL, *dates = NULL;
    const char *hours = NULL;
    if (config_map(cfg, root, "peak", false, &peak) != 0)
        return -1;
    if (!peak)
        return 0;
    if (config_expect_keys(cfg, peak, keys) != 0 || config_seq(cfg, peak, "days", false, &days) != 0 ||
        config_seq(cfg, peak, "dates", false, &dates) != 0 || config_str(cfg, peak, "hours", false, &hours) != 0 ||
        config_double(cfg, peak, "threshold_factor", false, 0.01, 1, &c->peak_factor) != 0 ||
        ac_events_query(cfg, peak, c) != 0)
        return -1;
    if (days) {
        c->peak_weekdays = 0;
        for (size_t i = 0; i < config_seq_len(days); i++) {
            const char *d = NULL;
            int wd;
            if (config_seq_str(cfg, days, i, &d) != 0)
                return -1;
            if (calendar_parse_weekday(d, &wd) != 0)
                return config_fail(cfg, peak, "days", "expected weekday names such as \"saturday\", got \"%s\"", d);
            c->peak_weekdays |= (uint8_t)(1u << wd);
        }
    }
    size_t n = dates ? config_seq_len(dates) : 0;
    if (n && !(c->peak_dates = calloc(n, sizeof *c->peak_dates)))
        return config_fail(cfg, peak, "dates", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *d = NULL;
        if (config_seq_str(cfg, dates, i, &d) != 0)
            return -1;
        int *ymd = c->peak_dates[i];
        if (calendar_parse_date(d, &ymd[0], &ymd[1], &ymd[2]) != 0)
            return config_fail(cfg, peak, "dates", "expected dates as YYYY-MM-DD, got \"%s\"", d);
        c->peak_date_count = i + 1;
    }
    if (hours && calendar_parse_hours(hours, &c->peak_start_min, &c->peak_end_min) != 0)
        return config_fail(cfg, peak, "hours", "expected a local time window such as \"11:00-18:00\", got "
                                              "\"%s\"", hours);
    return 0;
}

/* An email receiver's addresses. */
static int ac_receiver_to(config_t *cfg, const config_node_t *item, const config_node_t *to, receiver_t *r)
{
    size_t n = to ? config_seq_len(to) : 0;
    if (n && !(r->to = calloc(n, sizeof *r->to)))
        return config_fail(cfg, item, "to", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL;
        if (config_seq_str(cfg, to, i, &a) != 0)
            return -1;
        r->to[i] = strdup(a);
        r->to_count = i + 1;
    }
    return 0;
}

/* Extra HTTP headers: "Name: value", values as text or from a secret. */
static int ac_receiver_headers(config_t *cfg, const config_node_t *item, const config_node_t *headers, receiver_t *r)
{
    size_t n = headers ? config_map_len(headers) : 0;
    if (n && !(r->headers = calloc(n, sizeof *r->headers)))
        return config_fail(cfg, item, "headers", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *k = config_map_key(cfg, headers, i);
        const config_node_t *v = config_map_value(cfg, headers, i);
        char *value = NULL;
        if (config_node_is_map(v)) { /* {env: NAME} or {file: PATH} */
            static const char *const vkeys[] = {"value", "value_env", "value_file", NULL};
            if (config_expect_keys(cfg, v, vkeys) != 0 || ac_secret(cfg, v, "value", true, &value) != 0)
                return -1;
        } else if (config_node_scalar(v)) {
            value = strdup(config_node_scalar(v));
        } else {
            return config_fail(cfg, item, "headers", "expected header values as text or {value_env: NAME}");
        }
        size_t len = strlen(k) + strlen(value) + 3;
        r->headers[i] = malloc(len);
        if (r->headers[i])
            snprintf(r->headers[i], len, "%s: %s", k, value);
        free(value);
        r->header_count = i + 1;
    }
    return 0;
}

static int ac_receiver(config_t *cfg, const config_node_t *item, receiver_t *r)
{
    static const char *const keys[] = {
        "name", "type", "url", "url_file", "url_env", "secret", "secret_file", "secret_env", "routing_key",
        "routing_key_file", "routing_key_env", "username", "password", "password_file", "password_env", "from",
        "to", "tls", "ca_file", "insecure", "body_template", "content_type", "headers", NULL};
    static const char *const types[] = {"webhook", "slack", "pagerduty", "email", "sms", NULL};
    static const char *const tls[] = {"none", "starttls", "tls", NULL};
    const char *name = NULL, *user = NULL, *from = NULL, *ca = NULL, *tmpl = NULL, *ctype = NULL;
    int type = 0, tlsmode = RECEIVER_TLS_STARTTLS;
    const config_node_t *to = NULL, *headers = NULL;
    if (config_expect_keys(cfg, item, keys) != 0 || config_str(cfg, item, "name", true, &name) != 0 ||
        config_enum(cfg, item, "type", true, types, &type) != 0)
        return -1;
    r->name = strdup(name);
    r->type = (receiver_type_t)type;
    if (r->type == RECEIVER_PAGERDUTY) {
        if (ac_secret(cfg, item, "routing_key", true, &r->secret) != 0 ||
            ac_secret(cfg, item, "url", false, &r->url) != 0)
            return -1;
        if (!r->url)
            r->url = strdup("https://events.pagerduty.com/v2/enqueue");
    } else if (ac_secret(cfg, item, "url", true, &r->url) != 0) {
        return -1;
    }
    if (r->type == RECEIVER_WEBHOOK && ac_secret(cfg, item, "secret", false, &r->secret) != 0)
        return -1;
    if (config_str(cfg, item, "username", false, &user) != 0 ||
        ac_secret(cfg, item, "password", false, &r->password) != 0 ||
        config_str(cfg, item, "from", false, &from) != 0 || config_seq(cfg, item, "to", false, &to) != 0 ||
        config_enum(cfg, item, "tls", false, tls, &tlsmode) != 0 ||
        config_str(cfg, item, "ca_file", false, &ca) != 0 || config_bool(cfg, item, "insecure", false, &r->insecure) != 0 ||
        config_str(cfg, item, "body_template", false, &tmpl) != 0 ||
        config_str(cfg, item, "content_type", false, &ctype) != 0 ||
        config_map(cfg, item, "headers", false, &headers) != 0)
        return -1;
    r->username = ac_strdup(user);
    r->from = ac_strdup(from);
    r->ca_file = ac_strdup(ca);
    r->tls = (receiver_tls_t)tlsmode;
    r->body_template = ac_strdup(tmpl);
    r->content_type = ac_strdup(ctype);
    if (r->type == RECEIVER_EMAIL) {
        if (strncmp(r->url, "smtp://", 7) != 0 && strncmp(r->url, "smtps://", 8) != 0)
            return config_fail(cfg, item, "url", "expected an smtp:// or smtps:// URL for an email receiver");
        if (!from || !to || config_seq_len(to) == 0)
            return config_fail(cfg, item, from ? "to" : "from",
                               "expected from (an address) and to (a list of addresses) for an email receiver");
    } else if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0) {
        return config_fail(cfg, item, "url", "expected an http:// or https:// URL for receiver \"%s\"", name);
    }
    if (r->type == RECEIVER_SMS && !tmpl)
        return config_fail(cfg, item, "body_template",
                           "expected a body template for an sms receiver, e.g. \"{\\\"to\\\":\\\"+4912345\\\","
                           "\\\"text\\\":\\\"{summary}\\\"}\"");
    return ac_receiver_to(cfg, item, to, r) != 0 || ac_receiver_headers(cfg, item, headers, r) != 0 ? -1 : 0;
}

static int ac_receivers(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    const config_node_t *seq = NULL;
    if (config_seq(cfg, root, "receivers", false, &seq) != 0)
        return -1;
    size_t n = seq ? config_seq_len(seq) : 0;
    if (n > ALERT_MAX_RECEIVERS)
        return config_fail(cfg, root, "receivers", "expected at most %d receivers", ALERT_MAX_RECEIVERS);
    if (n && !(c->receivers = calloc(n, sizeof *c->receivers)))
        return config_fail(cfg, root, "receivers", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const config_node_t *item = config_seq_at(cfg, seq, i);
        c->receiver_count = i + 1;
        if (ac_receiver(cfg, item, &c->receivers[i]) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->receivers[j].name, c->receivers[i].name) == 0)
                return config_fail(cfg, item, "name", "expected unique receiver names, \"%s\" is used twice",
                                   c->receivers[i].name);
    }
    return 0;
}

static int ac_tiers(config_t *cfg, const config_node_t *esc, const char *key, alert_config_t *c, int which)
{
    static const char *const keys[] = {"after", "receivers", NULL};
    const config_node_t *seq = NULL;
    if (config_seq(cfg, esc, key, false, &seq) != 0)
        return -1;
    size_t n = seq ? config_seq_len(seq) : 0;
    if (!n)
        return 0;
    if (!(c->tiers[which] = calloc(n, sizeof *c->tiers[which])))
        return config_fail(cfg, esc, key, "out of memory");
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        const config_node_t *t = config_seq_at(cfg, seq, i), *rs = NULL;
        alert_tier_t *tier = &c->tiers[which][i];
        if (config_expect_keys(cfg, t, keys) != 0 || config_duration_ms(cfg, t, "after", false, &tier->after_ms) != 0 ||
            config_seq(cfg, t, "receivers", true, &rs) != 0)
            return -1;
        if (tier->after_ms < last)
            return config_fail(cfg, t, "after", "expected tiers in increasing order of \"after\"");
        last = tier->after_ms;
        for (size_t j = 0; j < config_seq_len(rs) && j < ALERT_MAX_RECEIVERS; j++) {
            const char *name = NULL;
            if (config_seq_str(cfg, rs, j, &name) != 0)
                return -1;
            int idx = alert_config_receiver(c, name);
            if (idx < 0)
                return config_fail(cfg, t, "receivers", "expected names of configured receivers, got \"%s\"", name);
            tier->receivers[tier->receiver_count++] = idx;
        }
        c->tier_count[which] = i + 1;
    }
    return 0;
}

static int ac_escalation(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    static const char *const keys[] = {"normal", "peak", NULL};
    const config_node_t *esc = NULL;
    if (config_map(cfg, root, "escalation", false, &esc) != 0)
        return -1;
    if (esc && (config_expect_keys(cfg, esc, keys) != 0 || ac_tiers(cfg, esc, "normal", c, 0) != 0 ||
                ac_tiers(cfg, esc, "peak", c, 1) != 0))
        return -1;
    if (!c->tier_count[0] && c->receiver_count) { /* default: every receiver at once */
        if (!(c->tiers[0] = calloc(1, sizeof *c->tiers[0])))
            return config_fail(cfg, root, "escalation", "out of memory");
        for (size_t i = 0; i < c->receiver_count; i++)
            c->tiers[0][0].receivers[c->tiers[0][0].receiver_count++] = (int)i;
        c->tier_count[0] = 1;
    }
    return 0;
}

static int ac_delivery(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    static const char *const keys[] = {"retry_initial", "retry_max", "give_up_after", "breaker_failures",
                                       "breaker_cooldown", "timeout", NULL};
    static const char *const fkeys[] = {"transitions", "window", NULL};
    const config_node_t *d = NULL, *f = NULL;
    uint64_t failures = c->breaker_failures, transitions = c->flap_transitions;
    if (config_map(cfg, root, "delivery", false, &d) != 0 || config_map(cfg, root, "flapping", false, &f) != 0)
        return -1;
    if (d && (config_expect_keys(cfg, d, keys) != 0 ||
              config_duration_ms(cfg, d, "retry_initial", false, &c->retry_initial_ms) != 0 ||
              config_duration_ms(cfg, d, "retry_max", false, &c->retry_max_ms) != 0 ||
              config_duration_ms(cfg, d, "give_up_after", false, &c->give_up_after_ms) != 0 ||
              config_uint(cfg, d, "breaker_failures", false, 1, 1000, &failures) != 0 ||
              config_duration_ms(cfg, d, "breaker_cooldown", false, &c->breaker_cooldown_ms) != 0 ||
              config_duration_ms(cfg, d, "timeout", false, &c->timeout_ms) != 0))
        return -1;
    if (d && (c->retry_initial_ms < 10 || c->retry_max_ms < c->retry_initial_ms))
        return config_fail(cfg, d, "retry_max", "expected retry_initial >= 10ms and retry_max >= retry_initial");
    if (d && (c->timeout_ms < 100 || c->timeout_ms > 300000))
        return config_fail(cfg, d, "timeout", "expected a duration from 100ms to 5m");
    if (f && (config_expect_keys(cfg, f, fkeys) != 0 ||
              config_uint(cfg, f, "transitions", false, 0, 31, &transitions) != 0 ||
              config_duration_ms(cfg, f, "window", false, &c->flap_window_ms) != 0))
        return -1;
    c->breaker_failures = (uint32_t)failures;
    c->flap_transitions = (uint32_t)transitions;
    return 0;
}

int alert_config_parse(config_t *cfg, const config_node_t *root, alert_config_t *c)
{
    c->peak_weekdays = 1u << 6;
    c->peak_start_min = 11 * 60;
    c->peak_end_min = 18 * 60;
    c->peak_factor = 0.5;
    c->retry_initial_ms = 1000;
    c->retry_max_ms = 60000;
    c->give_up_after_ms = 24ull * 3600 * 1000;
    c->breaker_failures = 5;
    c->breaker_cooldown_ms = 30000;
    c->timeout_ms = 10000;
    c->flap_transitions = 6;
    c->flap_window_ms = 600000;
    if (ac_rules(cfg, root, c) != 0 || ac_regions(cfg, root, c) != 0 || ac_peak(cfg, root, c) != 0 ||
        ac_receivers(cfg, root, c) != 0 || ac_escalation(cfg, root, c) != 0 || ac_delivery(cfg, root, c) != 0)
        return -1;
    for (size_t i = 0; i < c->rule_count; i++) {
        c->rules[i].params.flap_transitions = (int)c->flap_transitions;
        c->rules[i].params.flap_window_us = (int64_t)c->flap_window_ms * 1000;
    }
    return 0;
}

static void ac_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void alert_config_free(alert_config_t *c)
{
    for (size_t i = 0; i < c->rule_count; i++) {
        alert_rule_t *r = &c->rules[i];
        free(r->name);
        free(r->summary);
        ac_free_strv(r->label_keys, r->label_count);
        ac_free_strv(r->label_values, r->label_count);
    }
    free(c->rules);
    for (size_t i = 0; i < c->region_count; i++) {
        free(c->regions[i].name);
        free(c->regions[i].timezone);
    }
    free(c->regions);
    free(c->peak_dates);
    free(c->events_dsn);
    free(c->events_sql);
    free(c->tiers[0]);
    free(c->tiers[1]);
    for (size_t i = 0; i < c->receiver_count; i++) {
        receiver_t *r = &c->receivers[i];
        free(r->name);
        free(r->url);
        free(r->secret);
        free(r->username);
        free(r->password);
        free(r->from);
        free(r->ca_file);
        free(r->body_template);
        free(r->content_type);
        ac_free_strv(r->to, r->to_count);
        ac_free_strv(r->headers, r->header_count);
    }
    free(c->receivers);
    memset(c, 0, sizeof *c);
}

const char *alert_config_timezone(const alert_config_t *c, const char *region)
{
    for (size_t i = 0; region && i < c->region_count; i++)
        if (strcmp(c->regions[i].name, region) == 0)
            return c->regions[i].timezone;
    return "UTC";
}

int alert_config_receiver(const alert_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->receiver_count; i++)
        if (strcmp(c->receivers[i].name, name) == 0)
            return (int)i;
    return -1;
}
