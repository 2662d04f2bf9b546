"""Text that is not UTF-8 from the monitored server (issue 14, defect 1).

A SQL_ASCII database returns names byte for byte, whatever the client
encoding, and a LATIN1-localized server's connection errors arrive in
LATIN1: the aggregator now refuses any sample holding such bytes, so the
collector reads them as LATIN1 and sends valid UTF-8 instead of losing the
whole sample. Here a table named "caf\\xe9" in a SQL_ASCII database shows up
as "café" in the collector's sample.
"""

import unittest

from pgvigil_harness import PgCluster, TestDir, collect_once, collector_config


class Latin1Test(unittest.TestCase):
    def test_sql_ascii_names_arrive_as_utf8(self):
        d = TestDir()
        pg = PgCluster(d, replicas=0, pg_stat_statements=False).start()
        try:
            pg.psql("primary", "CREATE DATABASE latin ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
                               " TEMPLATE template0")
            pg.psql("primary", "DO $$ BEGIN EXECUTE format('CREATE TABLE %I (x int)',"
                               " convert_from('\\x636166e9'::bytea, 'SQL_ASCII')); END $$", dbname="latin")
            cfg = collector_config(d, "c.yaml", "latin-1", pg.dsn("primary", dbname="latin"))
            rc, sample, err = collect_once(cfg)
            self.assertEqual(rc, 0, err)
            tables = [t.get("table") for t in sample.get("tables", {}).get("tables", [])]
            self.assertIn("caf\u00e9", tables, tables)
        finally:
            pg.stop_all()
            d.remove()


if __name__ == "__main__":
    unittest.main()
