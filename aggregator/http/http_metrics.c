/*
 * http_metrics.c — GET /metrics: the Prometheus text of the fleet (from the
 * snapshot's node fragments, frag.h) followed by the aggregator's own counters
 * (ingest, alerts, notifications, history storage), read where they live.
 *
 * Owns nothing; runs on civetweb's worker threads.
 */
#include "http_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The ingest socket's counters and the core's applied samples. */
static void hm_ingest(FILE *f, const http_req_t *r)
{
    ingest_counters_t *c = r->http->counters;
    fprintf(f,
            "# HELP pgvigil_ingest_received_total Messages received on the ingest socket\n"
            "# TYPE pgvigil_ingest_received_total counter\npgvigil_ingest_received_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_accepted_total Samples accepted\n"
            "# TYPE pgvigil_ingest_accepted_total counter\npgvigil_ingest_accepted_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_bytes_total Sample body bytes received\n"
            "# TYPE pgvigil_ingest_bytes_total counter\npgvigil_ingest_bytes_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_unauthenticated_total CURVE handshakes refused\n"
            "# TYPE pgvigil_ingest_unauthenticated_total counter\n"
            "pgvigil_ingest_unauthenticated_total %" PRIu64 "\n"
            "# HELP pgvigil_core_samples_applied_total Samples applied to the fleet (as of the snapshot)\n"
            "# TYPE pgvigil_core_samples_applied_total counter\npgvigil_core_samples_applied_total %" PRIu64 "\n"
            "# HELP pgvigil_core_publish_seconds What publishing a snapshot took lately (smoothed); snapshots are "
            "at least ten times that apart\n"
            "# TYPE pgvigil_core_publish_seconds gauge\npgvigil_core_publish_seconds %.6f\n"
            "# HELP pgvigil_ingest_rejected_total Messages dropped, by reason\n"
            "# TYPE pgvigil_ingest_rejected_total counter\n",
            (uint64_t)atomic_load(&c->received), (uint64_t)atomic_load(&c->accepted),
            (uint64_t)atomic_load(&c->bytes), (uint64_t)atomic_load(&c->unauthenticated),
            r->snap->samples_applied, (double)r->snap->publish_cost_us / 1e6);
    for (int i = 1; i < INGEST_REASON_COUNT; i++)
        fprintf(f, "pgvigil_ingest_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
                ingest_reject_name((ingest_reject_t)i), (uint64_t)atomic_load(&c->rejected[i]));
    fprintf(f,
            "# HELP pgvigil_ingest_coalesced_total Accepted samples replaced by a newer sample of their node while the core was behind\n"
            "# TYPE pgvigil_ingest_coalesced_total counter\npgvigil_ingest_coalesced_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_dropped_total Accepted samples dropped to stay within the inbound memory budget\n"
            "# TYPE pgvigil_ingest_dropped_total counter\npgvigil_ingest_dropped_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_refused_total With history, samples refused while the core was behind or the "
            "store asked for backpressure; their collectors send them again\n"
            "# TYPE pgvigil_ingest_refused_total counter\npgvigil_ingest_refused_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_shed_total Messages read and discarded undecoded while ingest could not keep up "
            "(with history their collectors are told to send them again)\n"
            "# TYPE pgvigil_ingest_shed_total counter\npgvigil_ingest_shed_total %" PRIu64 "\n"
            "# HELP pgvigil_ingest_queued Accepted samples waiting for the core\n"
            "# TYPE pgvigil_ingest_queued gauge\npgvigil_ingest_queued %" PRIu64 "\n"
            "# HELP pgvigil_ingest_queued_bytes Estimated memory of the samples waiting for the core\n"
            "# TYPE pgvigil_ingest_queued_bytes gauge\npgvigil_ingest_queued_bytes %" PRIu64 "\n"
            "# HELP pgvigil_inbound_budget_bytes The configured inbound memory budget (inbound_budget_mb)\n"
            "# TYPE pgvigil_inbound_budget_bytes gauge\npgvigil_inbound_budget_bytes %" PRIu64 "\n",
            (uint64_t)atomic_load(&c->coalesced), (uint64_t)atomic_load(&c->dropped),
            (uint64_t)atomic_load(&c->refused), (uint64_t)atomic_load(&c->shed),
            (uint64_t)atomic_load(&c->queued), (uint64_t)atomic_load(&c->queued_bytes),
            r->http->cfg->inbound_budget_mb << 20);
}

/* Alerts firing and regions in their peak window (from the snapshot). */
static void hm_alerts(FILE *f, const http_req_t *r)
{
    fprintf(f,
            "# HELP pgvigil_alerts_firing Alerts firing, by severity\n"
            "# TYPE pgvigil_alerts_firing gauge\n"
            "pgvigil_alerts_firing{severity=\"warning\"} %u\npgvigil_alerts_firing{severity=\"critical\"} %u\n"
            "# HELP pgvigil_peak 1 while a region is in its peak window\n# TYPE pgvigil_peak gauge\n",
            r->snap->alerts_warning, r->snap->alerts_critical);
    size_t pi;
    json_t *pr;
    json_array_foreach(r->snap->peak_regions, pi, pr)
        fprintf(f, "pgvigil_peak{region=\"%s\"} 1\n", json_string_value(pr));
}

static void hm_notify(FILE *f, notify_stats_t *ns)
{
    fprintf(f,
            "# HELP pgvigil_notifications_total Notifications, by outcome\n"
            "# TYPE pgvigil_notifications_total counter\n"
            "pgvigil_notifications_total{outcome=\"queued\"} %" PRIu64 "\n"
            "pgvigil_notifications_total{outcome=\"delivered\"} %" PRIu64 "\n"
            "pgvigil_notifications_total{outcome=\"failed\"} %" PRIu64 "\n"
            "# HELP pgvigil_notification_attempts_total Delivery attempts (retries included)\n"
            "# TYPE pgvigil_notification_attempts_total counter\n"
            "pgvigil_notification_attempts_total %" PRIu64 "\n"
            "# HELP pgvigil_notification_breakers_open Receivers whose circuit breaker is open\n"
            "# TYPE pgvigil_notification_breakers_open gauge\npgvigil_notification_breakers_open %u\n"
            "# HELP pgvigil_alert_writes_pending Alert writes waiting for the database\n"
            "# TYPE pgvigil_alert_writes_pending gauge\npgvigil_alert_writes_pending %" PRIu64 "\n",
            (uint64_t)atomic_load(&ns->queued), (uint64_t)atomic_load(&ns->delivered),
            (uint64_t)atomic_load(&ns->failed), (uint64_t)atomic_load(&ns->attempts),
            (unsigned)atomic_load(&ns->breakers_open), (uint64_t)atomic_load(&ns->db_pending));
}

static void hm_store(FILE *f, store_t *store)
{
    store_stats_t st;
    store_stats(store, &st);
    fprintf(f,
            "# HELP pgvigil_store_connected 1 while the history database is reachable\n"
            "# TYPE pgvigil_store_connected gauge\npgvigil_store_connected %d\n"
            "# HELP pgvigil_store_rows_written_total History rows committed\n"
            "# TYPE pgvigil_store_rows_written_total counter\n"
            "pgvigil_store_rows_written_total %" PRIu64 "\n"
            "# HELP pgvigil_store_rows_buffered History rows waiting in memory\n"
            "# TYPE pgvigil_store_rows_buffered gauge\npgvigil_store_rows_buffered %" PRIu64 "\n"
            "# HELP pgvigil_store_rows_spooled History rows waiting in the spool file\n"
            "# TYPE pgvigil_store_rows_spooled gauge\npgvigil_store_rows_spooled %" PRIu64 "\n"
            "# HELP pgvigil_store_write_errors_total Failed history batches (retried)\n"
            "# TYPE pgvigil_store_write_errors_total counter\n"
            "pgvigil_store_write_errors_total %" PRIu64 "\n"
            "# HELP pgvigil_store_partitions_dropped_total Expired partitions dropped\n"
            "# TYPE pgvigil_store_partitions_dropped_total counter\n"
            "pgvigil_store_partitions_dropped_total %" PRIu64 "\n",
            st.connected, st.rows_written, st.rows_buffered, st.rows_spooled, st.write_errors,
            st.partitions_dropped);
    fprintf(f,
            "# HELP pgvigil_store_rows_quarantined_total History rows the database refused,"
            " set aside in history_quarantine\n"
            "# TYPE pgvigil_store_rows_quarantined_total counter\n"
            "pgvigil_store_rows_quarantined_total %" PRIu64 "\n"
            "# HELP pgvigil_store_samples_durable_total Samples made durable (acknowledged)\n"
            "# TYPE pgvigil_store_samples_durable_total counter\n"
            "pgvigil_store_samples_durable_total %" PRIu64 "\n"
            "# HELP pgvigil_store_backpressure 1 while the spool is full and new samples are refused (collectors keep them)\n"
            "# TYPE pgvigil_store_backpressure gauge\npgvigil_store_backpressure %d\n"
            "# HELP pgvigil_store_batches_direct_total History batches committed by COPY straight into their tables\n"
            "# TYPE pgvigil_store_batches_direct_total counter\npgvigil_store_batches_direct_total %" PRIu64 "\n"
            "# HELP pgvigil_store_batch_conflicts_total History batches that held rows stored already"
            " (a replay, another writer): they and the next ones went through staging\n"
            "# TYPE pgvigil_store_batch_conflicts_total counter\npgvigil_store_batch_conflicts_total %" PRIu64 "\n",
            st.rows_quarantined, st.marks_durable, st.backpressure, st.batches_direct, st.batch_conflicts);
}

int http_metrics(const http_req_t *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return http_error(r->conn, 500, "internal", "out of memory");
    snapshot_write_prom(r->snap, f);
    char *coordination = cluster_fence_metrics(r->http->fence);
    fputs(coordination ? coordination : "", f);
    free(coordination);
    hm_ingest(f, r);
    hm_alerts(f, r);
    if (r->http->notify_stats)
        hm_notify(f, r->http->notify_stats);
    if (r->http->store)
        hm_store(f, r->http->store);
    fclose(f);
    int rc = http_send_compressed(r, 200, "text/plain; version=0.0.4", text, len, NULL);
    free(text);
    return rc;
}
