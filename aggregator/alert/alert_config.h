/*
 * alert_config.h — alerting configuration: rules, regions and peak days,
 * escalation tiers, receivers and delivery policy. Parsed from the
 * aggregator's YAML by agg_config.c, read-only afterwards.
 *
 *   rules:                          # merged over the built-in rules by name
 *     - {name: replication_lag, metric: replication_lag_seconds, op: ">",
 *        warning: 5, critical: 30, for: 10s, clear: 3, roles: [replica],
 *        labels: {team: dba}, summary: "{node} is {value} behind",
 *        peak_factor: 0.5, enabled: true}
 *   regions: {eu-west: {timezone: Europe/Berlin}}   # others: UTC
 *   peak:
 *     days: [saturday]
 *     dates: [2026-06-13]
 *     hours: "11:00-18:00"          # "00:00-00:00": the whole day
 *     threshold_factor: 0.5
 *     events_query: {dsn: "...", sql: "select count(*) ...", threshold: 1, interval: 5m}
 *   escalation:
 *     normal: [{after: 0s, receivers: [oncall]}, {after: 30m, receivers: [sms]}]
 *     peak:   [{after: 0s, receivers: [oncall]}, {after: 5m, receivers: [sms]}]
 *   receivers:
 *     - {name: oncall, type: webhook, url: "https://...", secret_file: /etc/pgvigil/hook.key}
 *     - {name: chat, type: slack, url_env: SLACK_WEBHOOK_URL}
 *     - {name: pd, type: pagerduty, routing_key_env: PD_KEY}   # url: Events API v2
 *     - {name: mail, type: email, url: "smtp://mail:587", from: a@b, to: [c@d],
 *        tls: starttls|tls|none, username: u, password_file: f, ca_file: f, insecure: false}
 *     - {name: sms, type: sms, url: "https://gw/send", body_template: "...", headers: {...}}
 *   delivery: {retry_initial: 1s, retry_max: 60s, give_up_after: 24h,
 *              breaker_failures: 5, breaker_cooldown: 30s, timeout: 10s}
 *   flapping: {transitions: 6, window: 10m}
 *
 * Secrets (secret, routing_key, password, url, header values) may be given
 * inline, as KEY_file (the file's first line) or KEY_env (an environment
 * variable); they are resolved at load and never logged.
 */
#ifndef PGVIGIL_ALERT_CONFIG_H
#define PGVIGIL_ALERT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

#define ALERT_ROLE_PRIMARY 1u
#define ALERT_ROLE_REPLICA 2u
#define ALERT_MAX_RECEIVERS 64

typedef struct {
    char *name;
    int metric;               /* catalogue id (metric.h) */
    alert_params_t params;
    unsigned roles;           /* ALERT_ROLE_* mask */
    char **label_keys, **label_values;
    size_t label_count;
    char *summary;            /* template: {node} {cluster} {value} {threshold} {rule} {severity} */
    double peak_factor;       /* NAN: peak.threshold_factor */
    bool enabled;
} alert_rule_t;

typedef struct {
    char *name, *timezone;
} alert_region_t;

typedef struct {
    uint64_t after_ms;
    int receivers[ALERT_MAX_RECEIVERS];
    size_t receiver_count;
} alert_tier_t;

typedef enum { RECEIVER_WEBHOOK, RECEIVER_SLACK, RECEIVER_PAGERDUTY, RECEIVER_EMAIL, RECEIVER_SMS } receiver_type_t;
typedef enum { RECEIVER_TLS_NONE, RECEIVER_TLS_STARTTLS, RECEIVER_TLS_TLS } receiver_tls_t;

typedef struct {
    char *name;
    receiver_type_t type;
    char *url;                /* secret: may carry a token (Slack) */
    char *secret;             /* webhook HMAC key / PagerDuty routing key */
    char *username, *password, *from, *ca_file;
    char **to;
    size_t to_count;
    receiver_tls_t tls;
    bool insecure;
    char *body_template, *content_type;
    char **headers;           /* "Name: value" */
    size_t header_count;
} receiver_t;

typedef struct {
    alert_rule_t *rules;
    size_t rule_count;
    alert_region_t *regions;
    size_t region_count;

    uint8_t peak_weekdays;    /* bit 0 Sunday ... bit 6 Saturday */
    int (*peak_dates)[3];
    size_t peak_date_count;
    int peak_start_min, peak_end_min;
    double peak_factor;
    char *events_dsn, *events_sql;
    uint64_t events_threshold, events_interval_ms;

    alert_tier_t *tiers[2];   /* [0] normal, [1] peak */
    size_t tier_count[2];

    receiver_t *receivers;
    size_t receiver_count;

    uint64_t retry_initial_ms, retry_max_ms, give_up_after_ms;
    uint32_t breaker_failures;
    uint64_t breaker_cooldown_ms, timeout_ms;
    uint32_t flap_transitions;
    uint64_t flap_window_ms;
} alert_config_t;

struct config;
struct config_node;
/* Parse the alerting keys of root into out (built-in rules included). */
int alert_config_parse(struct config *cfg, const struct config_node *root, alert_config_t *out);
void alert_config_free(alert_config_t *c);

/* Time zone of a region (UTC when the region is not configured). */
const char *alert_config_timezone(const alert_config_t *c, const char *region);
/* Index of a receiver by name, or -1. */
int alert_config_receiver(const alert_config_t *c, const char *name);

#endif
