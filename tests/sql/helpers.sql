-- Suites running at once would create the same cluster-wide roles and grant on the same
-- tables: take turns (the lock is released when the test's transaction rolls back).
SELECT pg_advisory_xact_lock(7340321);

-- Test helpers, created in pg_temp so they vanish with the session.

-- Become a persona exactly as PostgREST does: the database role plus request.jwt.claims, both
-- for the current transaction only. 'superuser' goes back to the session's own role.
CREATE FUNCTION pg_temp.act_as(p_persona text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_sub  text;
BEGIN
  CASE p_persona
    WHEN 'superuser'    THEN PERFORM set_config('role', 'none', true);
                             PERFORM set_config('request.jwt.claims', '', true);
                             RETURN;
    WHEN 'anon'         THEN v_role := 'anon';
    WHEN 'service_role' THEN v_role := 'service_role';
    WHEN 'outsider'     THEN v_role := 'authenticated'; v_sub := 'u-outsider';
    WHEN 'client'       THEN v_role := 'authenticated'; v_sub := 'u-client';
    WHEN 'client2'      THEN v_role := 'authenticated'; v_sub := 'u-client2';
    WHEN 'member'       THEN v_role := 'authenticated'; v_sub := 'u-member';
    WHEN 'staff'        THEN v_role := 'authenticated'; v_sub := 'u-staff';
    WHEN 'admin'        THEN v_role := 'authenticated'; v_sub := 'u-admin';
    ELSE RAISE EXCEPTION 'unknown persona %', p_persona;
  END CASE;
  PERFORM set_config('role', 'none', true);
  PERFORM set_config('request.jwt.claims',
                     jsonb_strip_nulls(jsonb_build_object('sub', v_sub, 'role', v_role,
                                                          'aud', CASE WHEN v_sub IS NOT NULL THEN 'authenticated' END))::text,
                     true);
  PERFORM set_config('role', v_role, true);
END $$;

-- Ids a suite names to use them across its blocks: INSERT INTO ids VALUES ('name', id), then
-- pg_temp.id('name'). Any persona reads and writes it.
CREATE TEMP TABLE ids (name text PRIMARY KEY, id uuid);
GRANT ALL ON ids TO PUBLIC;
CREATE FUNCTION pg_temp.id(p_name text) RETURNS uuid LANGUAGE sql AS $$ SELECT id FROM ids WHERE name = p_name $$;

-- Run p_sql and fail unless it raises SQLSTATE p_state. The statement's effects are rolled back.
CREATE FUNCTION pg_temp.expect_error(p_state text, p_sql text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE p_sql;
  EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE <> p_state THEN
      RAISE EXCEPTION 'expected SQLSTATE % but got % (%) from: %', p_state, SQLSTATE, SQLERRM, p_sql;
    END IF;
    RETURN;
  END;
  RAISE EXCEPTION 'expected SQLSTATE % but the statement succeeded: %', p_state, p_sql;
END $$;

CREATE FUNCTION pg_temp.check(p_ok boolean, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_ok IS NOT TRUE THEN
    RAISE EXCEPTION 'check failed: %', p_what;
  END IF;
END $$;

-- Run p_sql and return the SQLSTATE, DETAIL and message it raises (its effects rolled back), or
-- all NULL when it succeeds (its effects stay).
CREATE FUNCTION pg_temp.error_of(p_sql text, OUT state text, OUT detail text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE p_sql;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL, message = MESSAGE_TEXT;
END $$;

-- The refusal p_sql meets, as 'STATE/detail'; '' when it succeeds.
CREATE FUNCTION pg_temp.refusal(p_sql text) RETURNS text
LANGUAGE sql AS $$
  SELECT coalesce(e.state || '/' || coalesce(e.detail, ''), '') FROM pg_temp.error_of(p_sql) e
$$;

-- The same with the message: 'STATE/detail/message'.
CREATE FUNCTION pg_temp.refusal_text(p_sql text) RETURNS text
LANGUAGE sql AS $$
  SELECT coalesce(e.state || '/' || coalesce(e.detail, '') || '/' || e.message, '') FROM pg_temp.error_of(p_sql) e
$$;

SELECT booking.create_api_roles();

-- Workshop rows for the suites that need them (not in the shared fixtures, whose bookings other
-- suites count): a published public workshop W1 with a 3-seat session S1 (u-client registered)
-- and a 12-seat session S2, both in the Digital Lab in January 2031, and a draft workshop W2.
CREATE FUNCTION pg_temp.workshop_fixtures() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lab constant uuid := '00000000-0000-4000-a000-000000000001';
BEGIN
  INSERT INTO booking.workshops (id, organization_id, title, default_resource_id, capacity, status) VALUES
    ('00000000-0000-4000-a000-000000000901', lab, 'Intro to 3D printing', '00000000-0000-4000-a000-000000000103', 3, 'published'),
    ('00000000-0000-4000-a000-000000000902', lab, 'Staff training', '00000000-0000-4000-a000-000000000103', 12, 'draft');
  INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, title, starts_at, ends_at, status, seats) VALUES
    ('00000000-0000-4000-a000-000000000411', lab, '00000000-0000-4000-a000-000000000103', 'u-staff', 'Intro to 3D printing',
     '2031-01-14 10:00 America/New_York', '2031-01-14 12:00 America/New_York', 'approved', 3),
    ('00000000-0000-4000-a000-000000000412', lab, '00000000-0000-4000-a000-000000000103', 'u-staff', 'Intro to 3D printing',
     '2031-01-21 10:00 America/New_York', '2031-01-21 12:00 America/New_York', 'approved', 12),
    ('00000000-0000-4000-a000-000000000413', lab, '00000000-0000-4000-a000-000000000103', 'u-staff', 'Staff training',
     '2031-01-28 10:00 America/New_York', '2031-01-28 12:00 America/New_York', 'approved', 12);
  INSERT INTO booking.workshop_sessions (id, organization_id, workshop_id, booking_id, capacity) VALUES
    ('00000000-0000-4000-a000-000000000911', lab, '00000000-0000-4000-a000-000000000901', '00000000-0000-4000-a000-000000000411', 3),
    ('00000000-0000-4000-a000-000000000912', lab, '00000000-0000-4000-a000-000000000901', '00000000-0000-4000-a000-000000000412', 12),
    ('00000000-0000-4000-a000-000000000913', lab, '00000000-0000-4000-a000-000000000902', '00000000-0000-4000-a000-000000000413', 12);
  INSERT INTO booking.workshop_registrations (id, session_id, user_id) VALUES
    ('00000000-0000-4000-a000-000000000921', '00000000-0000-4000-a000-000000000911', 'u-client');
END $$;
