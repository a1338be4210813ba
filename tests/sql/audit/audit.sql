-- log_action and the automatic audit: the actor is the JWT subject, the organization the
-- entity's; every registered business table writes its changes (changed columns only on update).

-- log_action: the actor is the JWT subject, the organization the entity's.
DO $$
DECLARE
  lab       constant uuid := '00000000-0000-4000-a000-000000000001';
  vr        constant uuid := '00000000-0000-4000-a000-000000000101';
  requested constant uuid := '00000000-0000-4000-a000-000000000401';  -- u-client's
  study     constant uuid := '00000000-0000-4000-a000-000000000402';  -- u-client2's
  clinic_room constant uuid := '00000000-0000-4000-a000-000000000201';
  v_id      uuid;
  v_row     booking.audit_log;
  v_before  bigint;
  v_persona text;
BEGIN
  PERFORM pg_temp.act_as('staff');
  v_id := booking.log_action('resource', vr, 'calibrated', '{"lens": "old"}', '{"lens": "new"}', 'monthly check');
  PERFORM pg_temp.act_as('superuser');
  SELECT * INTO v_row FROM booking.audit_log WHERE id = v_id;
  PERFORM pg_temp.check(v_row.entity_type = 'resources' AND v_row.entity_id = vr AND v_row.organization_id = lab
                        AND v_row.actor_id = 'u-staff' AND v_row.actor_role = 'authenticated' AND v_row.source = 'rpc'
                        AND v_row.action = 'calibrated' AND v_row.old_values = '{"lens": "old"}' AND v_row.new_values = '{"lens": "new"}'
                        AND v_row.reason = 'monthly check', format('logged: %s', v_row));
  PERFORM pg_temp.act_as('client');
  v_id := booking.log_action('bookings', requested, 'viewed');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check((SELECT actor_id FROM booking.audit_log WHERE id = v_id) = 'u-client', 'the booker logs on their booking; the admin reads it');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.audit_log), 'staff do not read the audit log');
  PERFORM pg_temp.act_as('service_role');
  v_id := booking.log_action('booking', study, 'exported');
  PERFORM pg_temp.act_as('superuser');
  SELECT * INTO v_row FROM booking.audit_log WHERE id = v_id;
  PERFORM pg_temp.check(v_row.actor_id IS NULL AND v_row.actor_role = 'service_role' AND v_row.organization_id = lab, format('service_role: %s', v_row));

  v_before := (SELECT count(*) FROM booking.audit_log);
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.log_action(''bookings'', %L, ''viewed'')', study));
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.log_action(''resources'', %L, ''viewed'')', vr));
  FOREACH v_persona IN ARRAY ARRAY['member', 'outsider'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    PERFORM pg_temp.expect_error('42501', format('SELECT booking.log_action(''resources'', %L, ''touched'')', vr));
  END LOOP;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.log_action(''resources'', %L, ''touched'')', vr));
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.log_action(''resources'', %L, ''touched'')', clinic_room));
  PERFORM pg_temp.expect_error('42501', 'SELECT booking.log_action(''resources'', ''00000000-0000-4000-a000-0000000009ff'', ''touched'')');
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.log_action(''invoice'', %L, ''touched'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.log_action(''resources'', %L, '''')', vr));
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.log_action(''resources'', NULL, ''touched'')');
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.log_action(''resources'', %L, ''touched'', ''[1]'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.log_action(''resources'', %L, ''touched'', NULL, NULL, repeat(''x'', 4001))', vr));
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.log_action(''resources'', ''00000000-0000-4000-a000-0000000009ff'', ''touched'')');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.audit_log) = v_before, 'refusals logged nothing');
  -- Nobody rewrites it: admins and service_role have no right, the owner is stopped by a trigger.
  FOREACH v_persona IN ARRAY ARRAY['admin', 'service_role', 'superuser'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    PERFORM pg_temp.expect_error('42501', 'UPDATE booking.audit_log SET reason = ''rewritten''');
    PERFORM pg_temp.expect_error('42501', 'DELETE FROM booking.audit_log');
  END LOOP;
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Automatic audit: every business table has insert, update and delete triggers, and each writes
-- the values (changed columns only on update) with the actor.
DO $$
DECLARE
  lab     constant uuid := '00000000-0000-4000-a000-000000000001';
  v_table text;
  v_id    uuid := '00000000-0000-4000-a000-00000000a0d1';
  v_key   uuid;
  v_ins   booking.audit_log;
  v_upd   booking.audit_log;
  v_del   booking.audit_log;
BEGIN
  PERFORM pg_temp.check(NOT EXISTS (
    SELECT 1 FROM unnest(ARRAY['bookings', 'resources', 'members', 'availability_rules', 'availability_exceptions',
                               'services', 'service_rules']) t(name),
                  unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) op(name)
    WHERE NOT EXISTS (SELECT 1 FROM information_schema.triggers tr
                      WHERE tr.event_object_schema = 'booking' AND tr.event_object_table = t.name
                        AND tr.event_manipulation = op.name
                        AND tr.action_statement LIKE CASE op.name WHEN 'INSERT' THEN '%audit_rows_inserted%'
                                                                  ELSE '%audit_row_change%' END)),
    'every business table has an audit trigger for insert, update and delete');

  FOREACH v_table IN ARRAY ARRAY['resources', 'members', 'availability_rules', 'availability_exceptions',
                                 'services', 'service_rules', 'bookings'] LOOP
    PERFORM pg_temp.act_as(CASE WHEN v_table = 'members' THEN 'admin' ELSE 'staff' END);
    CASE v_table
      WHEN 'resources' THEN
        INSERT INTO booking.resources (id, organization_id, title) VALUES (v_id, lab, 'Loupe');
        UPDATE booking.resources SET title = 'Big loupe' WHERE id = v_id;
        DELETE FROM booking.resources WHERE id = v_id;
      WHEN 'members' THEN
        INSERT INTO booking.members (organization_id, user_id, role) VALUES (lab, 'u-audited', 'client');
        UPDATE booking.members SET role = 'member' WHERE user_id = 'u-audited';
        DELETE FROM booking.members WHERE user_id = 'u-audited';
      WHEN 'availability_rules' THEN
        INSERT INTO booking.availability_rules (id, organization_id, day_of_week, start_time, end_time) VALUES (v_id, lab, 0, '10:00', '12:00');
        UPDATE booking.availability_rules SET end_time = '13:00' WHERE id = v_id;
        DELETE FROM booking.availability_rules WHERE id = v_id;
      WHEN 'availability_exceptions' THEN
        INSERT INTO booking.availability_exceptions (id, organization_id, during, kind)
        VALUES (v_id, lab, '[2031-01-01 00:00Z, 2031-01-02 00:00Z)', 'closed');
        UPDATE booking.availability_exceptions SET reason = 'New Year' WHERE id = v_id;
        DELETE FROM booking.availability_exceptions WHERE id = v_id;
      WHEN 'services' THEN
        INSERT INTO booking.services (id, organization_id, name, duration_minutes) VALUES (v_id, lab, 'Scan', 15);
        UPDATE booking.services SET duration_minutes = 20 WHERE id = v_id;
        DELETE FROM booking.services WHERE id = v_id;
      WHEN 'service_rules' THEN
        INSERT INTO booking.services (id, organization_id, name, duration_minutes) VALUES (v_id, lab, 'Scan', 15);
        INSERT INTO booking.service_rules (service_id, organization_id, min_notice_minutes) VALUES (v_id, lab, 60);
        UPDATE booking.service_rules SET min_notice_minutes = 120 WHERE service_id = v_id;
        DELETE FROM booking.service_rules WHERE service_id = v_id;
        DELETE FROM booking.services WHERE id = v_id;
      WHEN 'bookings' THEN
        INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, starts_at, ends_at, status)
        VALUES (v_id, lab, '00000000-0000-4000-a000-000000000104', 'u-client', '2030-03-06 10:00 America/New_York',
                '2030-03-06 11:00 America/New_York', 'pending');
        UPDATE booking.bookings SET title = 'Scanning' WHERE id = v_id;
        DELETE FROM booking.bookings WHERE id = v_id;
    END CASE;
    PERFORM pg_temp.act_as('superuser');
    v_key := CASE WHEN v_table = 'members' THEN NULL ELSE v_id END;
    SELECT * INTO v_ins FROM booking.audit_log WHERE entity_type = v_table AND entity_id IS NOT DISTINCT FROM v_key AND action = 'insert'
      AND (v_table <> 'members' OR new_values ->> 'user_id' = 'u-audited');
    SELECT * INTO v_upd FROM booking.audit_log WHERE entity_type = v_table AND entity_id IS NOT DISTINCT FROM v_key AND action = 'update'
      AND (v_table <> 'members' OR new_values ? 'role');
    SELECT * INTO v_del FROM booking.audit_log WHERE entity_type = v_table AND entity_id IS NOT DISTINCT FROM v_key AND action = 'delete'
      AND (v_table <> 'members' OR old_values ->> 'user_id' = 'u-audited');
    PERFORM pg_temp.check(v_ins.old_values IS NULL AND v_ins.new_values ->> 'organization_id' = lab::text
                          AND v_ins.organization_id = lab AND v_ins.actor_id IN ('u-staff', 'u-admin'),
                          format('%s insert audited: %s', v_table, v_ins));
    PERFORM pg_temp.check((SELECT count(*) FROM jsonb_object_keys(v_upd.new_values)) = 1
                          AND (SELECT array_agg(k) FROM jsonb_object_keys(v_upd.old_values) k)
                              = (SELECT array_agg(k) FROM jsonb_object_keys(v_upd.new_values) k)
                          AND v_upd.old_values <> v_upd.new_values,
                          format('%s update audited with the changed column only: %s -> %s', v_table, v_upd.old_values, v_upd.new_values));
    PERFORM pg_temp.check(v_del.new_values IS NULL AND v_del.old_values ->> 'organization_id' = lab::text,
                          format('%s delete audited: %s', v_table, v_del));
  END LOOP;
END $$;
