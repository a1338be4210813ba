-- Properties of the installed schema that are easy to lose in a later change.
DO $$
DECLARE
  v_bad text[];
BEGIN
  -- every table: row-level security enabled and forced, rows kept by pg_dump, a policy or two
  SELECT array_agg(c.relname) INTO v_bad
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'booking'
  WHERE c.relkind IN ('r', 'p')
    AND NOT (c.relrowsecurity AND c.relforcerowsecurity
             AND c.oid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'booking_ext')::oid[])
             AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid));
  PERFORM pg_temp.check(v_bad IS NULL, format('tables without forced RLS, config dump or policy: %s', v_bad));
  -- every table of the schema was registered by its module, and every registered table exists
  PERFORM pg_temp.check((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
                         WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind IN ('r', 'p'))
                        = (SELECT array_agg(table_name ORDER BY table_name) FROM booking_internal.registered_tables),
                        'the tables of schema booking are the registered ones');

  -- every foreign key has an index whose leading columns are the key's columns (splinter 0001)
  SELECT array_agg(con.conname) INTO v_bad
  FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace AND n.nspname = 'booking'
  WHERE con.contype = 'f'
    AND NOT EXISTS (
      SELECT 1 FROM pg_index i
      WHERE i.indrelid = con.conrelid
        AND (SELECT array_agg(x ORDER BY x) FROM unnest((i.indkey::int2[])[0:cardinality(con.conkey) - 1]) x)
          = (SELECT array_agg(x ORDER BY x) FROM unnest(con.conkey) x));
  PERFORM pg_temp.check(v_bad IS NULL, format('foreign keys without an index: %s', v_bad));

  -- every SECURITY DEFINER function pins its search_path, and so does every function at all
  SELECT array_agg(p.proname) INTO v_bad
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'booking'
  WHERE p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
    AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) cfg WHERE cfg LIKE 'search_path=%');
  PERFORM pg_temp.check(v_bad IS NULL, format('functions without a pinned search_path: %s', v_bad));

  -- every policy wraps identity calls in a sub-select (evaluated once per query, splinter 0003)
  SELECT array_agg(polname) INTO v_bad
  FROM pg_policy p
  WHERE p.polrelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'booking')
    AND (regexp_replace(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                        '\(\s*SELECT\s+booking\.(current_user_id|user_organization_ids|public_organization_ids)\([^)]*\)[^)]*\)', '', 'gi')
         ~ '(current_user_id|user_organization_ids|public_organization_ids|current_setting)\(');
  PERFORM pg_temp.check(v_bad IS NULL, format('policies calling identity helpers per row: %s', v_bad));

  -- every table, view and function is documented in the catalog
  SELECT array_agg(x) INTO v_bad FROM (
    SELECT c.relname::text AS x FROM pg_class c
    WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind IN ('r', 'p', 'v')
      AND obj_description(c.oid, 'pg_class') IS NULL
    UNION ALL
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
      AND obj_description(p.oid, 'pg_proc') IS NULL
  ) undocumented;
  PERFORM pg_temp.check(v_bad IS NULL, format('without COMMENT ON: %s', v_bad));

  -- the status CHECK, the status machine and the booking_statuses() list agree
  PERFORM pg_temp.check(
    (SELECT array_agg(s ORDER BY s) FROM unnest(booking.booking_statuses()) s) =
    (SELECT array_agg(DISTINCT s ORDER BY s) FROM booking.status_transitions() t, LATERAL (VALUES (t.from_status), (t.to_status)) v(s)),
    'every status takes part in a transition');
  PERFORM pg_temp.check(
    (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'bookings_status_check')
      ~ ALL (SELECT quote_literal(s) FROM unnest(booking.booking_statuses()) s),
    'the bookings status CHECK lists every status');
END $$;
