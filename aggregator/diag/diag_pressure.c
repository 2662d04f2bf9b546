/*
 * diag_pressure.c — the "pressure" part of a node's document: transaction
 * ID wraparound, temp files written per second, requested against timed
 * checkpoints, and connection saturation, as last reported. The figures
 * live in the node (diag_node_t, owned by diag.c); this file shapes them.
 */
#include "diag_internal.h"

#include "metric.h"

json_t *diag_wraparound(const Pgvigil__Wraparound *w)
{
    json_t *dbs = json_array();
    const Pgvigil__DatabaseAge *oldest = NULL;
    for (size_t i = 0; i < w->n_databases; i++) {
        const Pgvigil__DatabaseAge *d = w->databases[i];
        if (!oldest || d->datfrozenxid_age > oldest->datfrozenxid_age)
            oldest = d;
        json_array_append_new(dbs, json_pack("{s:s,s:I,s:I}", "database", d->datname ? d->datname : "",
                                             "datfrozenxid_age", (json_int_t)d->datfrozenxid_age, "datminmxid_age",
                                             (json_int_t)d->datminmxid_age));
    }
    uint64_t age = oldest ? oldest->datfrozenxid_age : 0;
    double ratio = 0;
    diag_metric(METRIC_XID_WRAPAROUND_RATIO, NULL, w, &ratio);
    return json_pack("{s:s?,s:I,s:o,s:f,s:f,s:o}", "oldest_database", oldest ? oldest->datname : NULL,
                     "datfrozenxid_age", (json_int_t)age, "autovacuum_freeze_max_age",
                     w->has_autovacuum_freeze_max_age ? json_integer((json_int_t)w->autovacuum_freeze_max_age)
                                                      : json_null(),
                     "wraparound_ratio", ratio, "freeze_max_age_ratio",
                     w->autovacuum_freeze_max_age ? (double)age / (double)w->autovacuum_freeze_max_age : 0.0,
                     "databases", dbs);
}

/* Temp files written since the previous databases section, per second. */
void diag_temp(diag_node_t *n, const Pgvigil__Databases *d, int64_t at_us)
{
    uint64_t files = 0, bytes = 0;
    for (size_t i = 0; i < d->n_databases; i++) {
        files += d->databases[i]->temp_files;
        bytes += d->databases[i]->temp_bytes;
    }
    if (n->temp_at_us && at_us > n->temp_at_us && files >= n->temp_files && bytes >= n->temp_bytes) {
        double secs = (double)(at_us - n->temp_at_us) / 1e6;
        json_decref(n->temp);
        n->temp = json_pack("{s:f,s:f,s:f,s:I,s:I}", "window_seconds", secs, "files_per_second",
                            (double)(files - n->temp_files) / secs, "bytes_per_second",
                            (double)(bytes - n->temp_bytes) / secs, "total_files", (json_int_t)files, "total_bytes",
                            (json_int_t)bytes);
    }
    n->temp_files = files;
    n->temp_bytes = bytes;
    n->temp_at_us = at_us;
}

/* Wraparound, temp files, checkpoints and connections, as last reported. */
json_t *diag_pressure(const diag_node_t *n)
{
    json_t *p = json_object();
    json_object_set(p, "wraparound", n->wraparound ? n->wraparound : json_null());
    json_object_set(p, "temp_files", n->temp ? n->temp : json_null());
    if (n->has_ckpt) {
        double all = (double)(n->ckpt.checkpoints_timed + n->ckpt.checkpoints_requested);
        json_object_set_new(p, "checkpoints",
                            json_pack("{s:I,s:I,s:f}", "timed", (json_int_t)n->ckpt.checkpoints_timed, "requested",
                                      (json_int_t)n->ckpt.checkpoints_requested, "requested_ratio",
                                      all > 0 ? (double)n->ckpt.checkpoints_requested / all : 0.0));
    }
    if (n->has_conn) {
        double saturation = 0;
        diag_metric(METRIC_CONNECTION_SATURATION, &n->conn, NULL, &saturation);
        json_object_set_new(p, "connections",
                            json_pack("{s:i,s:i,s:i,s:i,s:i,s:f}", "total", (int)n->conn.total, "active",
                                      (int)n->conn.active, "idle_in_transaction", (int)n->conn.idle_in_transaction,
                                      "waiting", (int)n->conn.waiting, "max_connections", (int)n->conn.max_connections,
                                      "saturation", saturation));
    }
    return p;
}
