-- A cheap fingerprint of the catalog rows that describe the given tables
-- and functions (issue 17): the count and the sum of the xmin (the id of
-- the transaction that wrote the row) of their pg_class, pg_attribute,
-- pg_constraint, pg_index, pg_trigger, pg_partitioned_table and
-- pg_inherits rows, and of the functions' pg_proc rows. Any DDL on them
-- (a migration, an ALTER TABLE typed in psql) inserts, updates or deletes
-- such rows, and a row written by a later transaction has a later xmin, so
-- the fingerprint moves. `schema::SchemaGuard` calls it before every cycle's
-- stage 10 and compares the whole schema again only when it moved.
--
-- PL/pgSQL, not plain SQL, so that each connection plans the statement
-- once and keeps the plan: planning it costs more than running it.
CREATE FUNCTION kcg.schema_fingerprint(tables text[], functions text[],
                                       OUT row_count bigint, OUT xmin_sum bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    WITH rel AS (
        SELECT c.oid, c.xmin FROM pg_catalog.pg_class c
         WHERE c.oid = ANY (ARRAY(SELECT pg_catalog.to_regclass(t) FROM unnest(tables) AS t))
    ), oids AS (SELECT ARRAY(SELECT rel.oid FROM rel) AS a)
    SELECT count(*), coalesce(sum(s.x::text::bigint), 0)::bigint INTO row_count, xmin_sum FROM (
        SELECT r.xmin AS x FROM rel r
        UNION ALL SELECT a.xmin FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = ANY ((SELECT o.a FROM oids o)::oid[]) AND a.attnum > 0
        UNION ALL SELECT k.xmin FROM pg_catalog.pg_constraint k
                   WHERE k.conrelid = ANY ((SELECT o.a FROM oids o)::oid[])
        UNION ALL SELECT i.xmin FROM pg_catalog.pg_index i
                   WHERE i.indrelid = ANY ((SELECT o.a FROM oids o)::oid[])
        UNION ALL SELECT g.xmin FROM pg_catalog.pg_trigger g
                   WHERE g.tgrelid = ANY ((SELECT o.a FROM oids o)::oid[])
        UNION ALL SELECT p.xmin FROM pg_catalog.pg_partitioned_table p
                   WHERE p.partrelid = ANY ((SELECT o.a FROM oids o)::oid[])
        UNION ALL SELECT h.xmin FROM pg_catalog.pg_inherits h
                   WHERE h.inhparent = ANY ((SELECT o.a FROM oids o)::oid[])
        UNION ALL SELECT f.xmin FROM pg_catalog.pg_proc f
                   WHERE f.oid = ANY (ARRAY(SELECT pg_catalog.to_regprocedure(fn) FROM unnest(functions) AS fn))
    ) s;
END
$$;
