-- Where a register + cancel pair's time goes (tests/bench/workshops_parts.sh): the calls of
-- tests/bench/workshops.pgbench and the writes of tests/bench/workshops_plain.pgbench, one pair
-- after another in one backend, each call in its own transaction (a procedure commits after
-- each), so that what is timed is the server's work alone: no client, no network, no parsing.
-- People and sessions follow fixed strides, so both loops write the same rows.

-- The session and person of pair i; acting as that person for the rest of the transaction (the
-- JWT claims and role PostgREST sets).
CREATE FUNCTION bench.workshop_pair(i integer, OUT session_id uuid, OUT person text)
LANGUAGE sql STABLE
RETURN (format('b0000000-0000-4000-a006-%s', lpad((1 + (i * 7919) % 200)::text, 12, '0'))::uuid, 'wb-' || (1 + (i * 104729) % 1000));

CREATE FUNCTION bench.act_as(p_person text) RETURNS void
LANGUAGE sql
BEGIN ATOMIC
  SELECT set_config('request.jwt.claims', '{"sub":"' || p_person || '","role":"authenticated"}', true),
         set_config('role', 'authenticated', true);
END;

CREATE PROCEDURE bench.workshop_rpc_pairs(p_pairs integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_session uuid;
  v_person  text;
  v_row     booking.workshop_registrations;
BEGIN
  FOR i IN 1..p_pairs LOOP
    SELECT * INTO v_session, v_person FROM bench.workshop_pair(i);
    PERFORM bench.act_as(v_person);
    v_row := booking.register_for_session(v_session);
    COMMIT;
    PERFORM bench.act_as(v_person);
    v_row := booking.cancel_registration(v_row.id);
    COMMIT;
  END LOOP;
END $$;

CREATE PROCEDURE bench.workshop_plain_pairs(p_pairs integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_session uuid;
  v_person  text;
  v_id      uuid;
BEGIN
  FOR i IN 1..p_pairs LOOP
    SELECT * INTO v_session, v_person FROM bench.workshop_pair(i);
    PERFORM bench.act_as(v_person);
    INSERT INTO bench.workshop_registrations_plain AS r (organization_id, workshop_id, session_id, user_id)
    VALUES ('b0000000-0000-4000-a000-000000000001', 'b0000000-0000-4000-a007-000000000001', v_session, v_person)
    ON CONFLICT (session_id, user_id) DO UPDATE SET status = 'registered', cancelled_at = NULL, updated_at = now()
    RETURNING r.id INTO v_id;
    COMMIT;
    PERFORM bench.act_as(v_person);
    UPDATE bench.workshop_registrations_plain SET status = 'cancelled', cancelled_at = now(), updated_at = now()
    WHERE id = v_id AND status <> 'cancelled';
    COMMIT;
  END LOOP;
END $$;

-- The parts that can be switched off for a trial (the rules are then broken: only ever on this
-- throwaway database): 'audit' (the registrations' audit triggers), 'audit_insert' (the audit
-- rows' INSERT only: the triggers still run and build the rows), 'after' (the registrations'
-- outbox events and the line's promotions), 'rls' (row-level security on the RPCs' own
-- statements).
CREATE TABLE bench.workshop_part_switches (part text PRIMARY KEY, off_sql text NOT NULL, on_sql text NOT NULL);
INSERT INTO bench.workshop_part_switches VALUES
  ('audit', 'ALTER TABLE booking.workshop_registrations DISABLE TRIGGER workshop_registrations_8_audit, DISABLE TRIGGER workshop_registrations_8_audit_update, DISABLE TRIGGER workshop_registrations_8_audit_delete',
            'ALTER TABLE booking.workshop_registrations ENABLE TRIGGER workshop_registrations_8_audit, ENABLE TRIGGER workshop_registrations_8_audit_update, ENABLE TRIGGER workshop_registrations_8_audit_delete'),
  ('after', 'ALTER TABLE booking.workshop_registrations DISABLE TRIGGER workshop_registrations_6_after_insert, DISABLE TRIGGER workshop_registrations_6_after_status',
            'ALTER TABLE booking.workshop_registrations ENABLE TRIGGER workshop_registrations_6_after_insert, ENABLE TRIGGER workshop_registrations_6_after_status'),
  ('rls', 'ALTER TABLE booking.workshop_registrations DISABLE ROW LEVEL SECURITY', 'ALTER TABLE booking.workshop_registrations ENABLE ROW LEVEL SECURITY'),
  ('audit_insert', 'CREATE RULE skip_audit_insert AS ON INSERT TO booking.audit_log DO INSTEAD NOTHING',
                   'DROP RULE skip_audit_insert ON booking.audit_log');
