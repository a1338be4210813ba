-- The row-level security matrix: every table x persona x command, allowed or denied, with the
-- identity set exactly as PostgREST sets it. Each case targets a row of the Oolite lab (or
-- inserts one) and is rolled back at once, so cases cannot influence each other.
-- Allowed means the statement touched at least one row; denied means SQLSTATE 42501 or no row.
SELECT pg_temp.workshop_fixtures();
-- a series of u-client's (its occurrences are not needed here)
INSERT INTO booking.booking_series (id, organization_id, resource_id, booked_by, rrule, frequency, first_date,
                                    local_start, duration, time_zone)
VALUES ('00000000-0000-4000-a000-000000000931', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101',
        'u-client', 'FREQ=WEEKLY;COUNT=2', 'weekly', '2031-02-03', '10:00', '1 hour', 'America/New_York');
-- an event of u-client's booking in the Digital Lab, u-member on its team and assigned to it,
-- a place, a kit (template and instance) planned for its activity, an issue u-member reported;
-- and another approved booking without an event
INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, starts_at, ends_at, status) VALUES
  ('00000000-0000-4000-a000-000000000951', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103',
   'u-client', '2031-03-03 10:00 America/New_York', '2031-03-03 12:00 America/New_York', 'approved'),
  ('00000000-0000-4000-a000-000000000952', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103',
   'u-client', '2031-03-04 10:00 America/New_York', '2031-03-04 12:00 America/New_York', 'approved');
INSERT INTO booking.locations (id, organization_id, name) VALUES
  ('00000000-0000-4000-a000-000000000961', '00000000-0000-4000-a000-000000000001', 'Main hall');
INSERT INTO booking.kit_templates (id, organization_id, name) VALUES
  ('00000000-0000-4000-a000-000000000962', '00000000-0000-4000-a000-000000000001', 'Sound kit'),
  ('00000000-0000-4000-a000-00000000096a', '00000000-0000-4000-a000-000000000001', 'Retired kit');
INSERT INTO booking.kit_instances (id, organization_id, template_id, serial_number) VALUES
  ('00000000-0000-4000-a000-000000000963', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000962', 'SK-1'),
  ('00000000-0000-4000-a000-000000000969', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000962', 'SK-0');
INSERT INTO booking.event_instances (id, organization_id, booking_id, starts_at, ends_at, location_id) VALUES
  ('00000000-0000-4000-a000-000000000960', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000951',
   now(), now(), '00000000-0000-4000-a000-000000000961');
INSERT INTO booking.event_team_members (id, organization_id, event_instance_id, user_id, role) VALUES
  ('00000000-0000-4000-a000-000000000964', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'u-member', 'runner');
INSERT INTO booking.staff_assignments (id, organization_id, event_instance_id, user_id, role, starts_at, ends_at) VALUES
  ('00000000-0000-4000-a000-000000000965', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'u-member', 'host', now(), now());
INSERT INTO booking.activities (id, organization_id, event_instance_id, title) VALUES
  ('00000000-0000-4000-a000-000000000966', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'DJ set');
INSERT INTO booking.activity_kits (id, organization_id, activity_id, event_instance_id, kit_instance_id, status, starts_at, ends_at) VALUES
  ('00000000-0000-4000-a000-000000000967', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000966',
   '00000000-0000-4000-a000-000000000960', '00000000-0000-4000-a000-000000000963', 'assigned', now(), now());
SELECT set_config('request.jwt.claims', '{"sub": "u-member", "role": "authenticated"}', false);
INSERT INTO booking.event_issues (id, organization_id, event_instance_id, issue_type, description, severity) VALUES
  ('00000000-0000-4000-a000-000000000968', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'equipment', 'Hum', 'low');
SELECT set_config('request.jwt.claims', '', false);
-- credits: u-client holds five in the lab (an account, a lot, a purchase); the clinic (the
-- outsider's organization) has a refund policy, the lab none
SELECT booking_internal.post_credit(booking_internal.lock_credit_account('00000000-0000-4000-a000-000000000001', 'u-client'),
                                    'purchase', 5, NULL, NULL, NULL, NULL, NULL, 'rls-pay', NULL, '{}'::jsonb);
INSERT INTO booking.credit_policies (organization_id) VALUES ('00000000-0000-4000-a000-000000000002');
-- people: u-client's profile; u-member is the professional of Dr. Ana (a person resource), Dr.
-- Bo has none; u-client's student Sam (its first admission state logged)
INSERT INTO booking.profiles (user_id, display_name, email) VALUES ('u-client', 'Cleo', 'cleo@example.org');
INSERT INTO booking.resources (id, organization_id, kind, title) VALUES
  ('00000000-0000-4000-a000-0000000009a1', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Ana'),
  ('00000000-0000-4000-a000-0000000009a2', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Bo');
INSERT INTO booking.professionals (id, organization_id, user_id, resource_id) VALUES
  ('00000000-0000-4000-a000-0000000009b1', '00000000-0000-4000-a000-000000000001', 'u-member', '00000000-0000-4000-a000-0000000009a1');
INSERT INTO booking.students (id, organization_id, first_name, last_name, primary_contact_id) VALUES
  ('00000000-0000-4000-a000-0000000009c1', '00000000-0000-4000-a000-000000000001', 'Sam', 'Client', 'u-client');
-- engagement: a thread between u-client and u-staff (a message each way), u-client's
-- favourite lab, u-client2's published review of their completed booking of the printer, and a
-- completed booking of u-client's not reviewed yet
SELECT set_config('request.jwt.claims', '{"sub": "u-client", "role": "authenticated"}', false);
SELECT booking.start_thread('u-staff', 'Hello', 'Is the printer free?');
SELECT set_config('request.jwt.claims', '{"sub": "u-staff", "role": "authenticated"}', false);
SELECT booking.send_message(t.id, 'It is.') FROM booking.message_threads t WHERE t.created_by_id = 'u-client';
SELECT set_config('request.jwt.claims', '', false);
INSERT INTO booking.customer_favorites (user_id, organization_id) VALUES ('u-client', '00000000-0000-4000-a000-000000000001');
INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, starts_at, ends_at, status) VALUES
  ('00000000-0000-4000-a000-0000000009d1', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-02-04 10:00 America/New_York', '2030-02-04 11:00 America/New_York', 'completed'),
  ('00000000-0000-4000-a000-0000000009d2', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client2', '2030-02-04 11:00 America/New_York', '2030-02-04 12:00 America/New_York', 'completed');
SELECT set_config('request.jwt.claims', '{"sub": "u-client2", "role": "authenticated"}', false);
INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating, content)
VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009d2', '00000000-0000-4000-a000-000000000102', 'u-client2', 4, 'Good');
SELECT set_config('request.jwt.claims', '', false);
-- calendars: the lab's printer calendar (tokens, an event and its busy time) and a second
-- integration without tokens
INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, time_zone) VALUES
  ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000001', 'google', 'printer@example.org', 'America/New_York'),
  ('00000000-0000-4000-a000-0000000009e2', '00000000-0000-4000-a000-000000000001', 'ics', 'feed', 'America/New_York');
INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id) VALUES
  ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000102', '00000000-0000-4000-a000-000000000001');
INSERT INTO booking.calendar_credentials (integration_id, organization_id, access_token) VALUES
  ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000001', 'secret');
SELECT booking.upsert_calendar_events('00000000-0000-4000-a000-0000000009e1',
  '[{"external_id": "rls", "start": "2030-02-05T15:00:00Z", "end": "2030-02-05T16:00:00Z"}]');
-- intake: a request u-client submitted, with an attachment; digests: a daily digest of the lab
INSERT INTO booking.external_requests (id, organization_id, source, external_id, request_type, request_data, submitted_by) VALUES
  ('00000000-0000-4000-a000-0000000009f1', '00000000-0000-4000-a000-000000000001', 'api', 'rls', 'inquiry', '{}', 'u-client');
INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url, uploaded_by) VALUES
  ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009f1', 'rls.pdf', 'application/pdf', 1, 'https://files.example/rls.pdf', 'u-client');
SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-01-07');
-- templates: the lab's template for booking requests; analytics: an event a lab member tracked
INSERT INTO booking.notification_templates (id, organization_id, template_key, body) VALUES
  ('00000000-0000-4000-a000-0000000009f1', '00000000-0000-4000-a000-000000000001', 'booking_request', 'To approve: {{title}}');
SELECT set_config('request.jwt.claims', '{"sub": "u-member", "role": "authenticated"}', false);
SELECT booking.track_event('rls', '{"organization_id": "00000000-0000-4000-a000-000000000001"}');
SELECT set_config('request.jwt.claims', '', false);
CREATE TEMP TABLE rls_case (tbl text, cmd text, sql text, expect text);
-- expect: one letter per persona, in this order:
--         anon, outsider, client, member, staff, admin, service_role   (Y allowed, n denied)
INSERT INTO rls_case VALUES
 ('organizations', 'select', $q$SELECT 1 FROM booking.organizations WHERE slug = 'oolite'$q$, 'YYYYYYY'),
 ('organizations', 'insert', $q$INSERT INTO booking.organizations (slug, name) VALUES ('new-org', 'New')$q$, 'nnnnnnY'),
 ('organizations', 'update', $q$UPDATE booking.organizations SET name = 'Renamed' WHERE slug = 'oolite'$q$, 'nnnnnYY'),
 ('organizations', 'delete', $q$DELETE FROM booking.organizations WHERE slug = 'oolite'$q$, 'nnnnnnY'),

 ('members', 'select', $q$SELECT 1 FROM booking.members WHERE user_id = 'u-client'$q$, 'nnYnYYY'),
 ('members', 'insert', $q$INSERT INTO booking.members (organization_id, user_id) VALUES ('00000000-0000-4000-a000-000000000001', 'u-new')$q$, 'nnnnnYY'),
 ('members', 'update', $q$UPDATE booking.members SET role = 'member' WHERE user_id = 'u-client'$q$, 'nnnnnYY'),
 ('members', 'delete', $q$DELETE FROM booking.members WHERE user_id = 'u-client'$q$, 'nnnnnYY'),

 ('resources', 'select', $q$SELECT 1 FROM booking.resources WHERE title = 'VR Headset'$q$, 'YYYYYYY'),
 ('resources', 'insert', $q$INSERT INTO booking.resources (organization_id, title) VALUES ('00000000-0000-4000-a000-000000000001', 'Drone')$q$, 'nnnnYYY'),
 ('resources', 'update', $q$UPDATE booking.resources SET title = 'Scanner' WHERE title = 'Flatbed Scanner'$q$, 'nnnnYYY'),
 ('resources', 'delete', $q$DELETE FROM booking.resources WHERE title = 'Flatbed Scanner'$q$, 'nnnnYYY'),

 ('availability_rules', 'select', $q$SELECT 1 FROM booking.availability_rules WHERE id = '00000000-0000-4000-a000-000000000599'$q$, 'YYYYYYY'),
 ('availability_rules', 'insert', $q$INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time) VALUES ('00000000-0000-4000-a000-000000000001', 0, '10:00', '12:00')$q$, 'nnnnYYY'),
 ('availability_rules', 'update', $q$UPDATE booking.availability_rules SET end_time = '17:00' WHERE id = '00000000-0000-4000-a000-000000000599'$q$, 'nnnnYYY'),
 ('availability_rules', 'delete', $q$DELETE FROM booking.availability_rules WHERE id = '00000000-0000-4000-a000-000000000599'$q$, 'nnnnYYY'),

 ('availability_exceptions', 'select', $q$SELECT 1 FROM booking.availability_exceptions WHERE id = '00000000-0000-4000-a000-000000000601'$q$, 'nnYYYYY'),
 ('availability_exceptions', 'insert', $q$INSERT INTO booking.availability_exceptions (organization_id, during) VALUES ('00000000-0000-4000-a000-000000000001', '[2030-12-25Z,2030-12-26Z)')$q$, 'nnnnYYY'),
 ('availability_exceptions', 'update', $q$UPDATE booking.availability_exceptions SET reason = 'July 4th' WHERE id = '00000000-0000-4000-a000-000000000601'$q$, 'nnnnYYY'),
 ('availability_exceptions', 'delete', $q$DELETE FROM booking.availability_exceptions WHERE id = '00000000-0000-4000-a000-000000000601'$q$, 'nnnnYYY'),

 ('services', 'select', $q$SELECT 1 FROM booking.services WHERE id = '00000000-0000-4000-a000-000000000302'$q$, 'nnYYYYY'),
 ('services', 'insert', $q$INSERT INTO booking.services (organization_id, name, duration_minutes) VALUES ('00000000-0000-4000-a000-000000000001', 'Laser job', 45)$q$, 'nnnnYYY'),
 ('services', 'update', $q$UPDATE booking.services SET price_cents = 2000 WHERE id = '00000000-0000-4000-a000-000000000302'$q$, 'nnnnYYY'),
 ('services', 'delete', $q$DELETE FROM booking.services WHERE id = '00000000-0000-4000-a000-000000000302'$q$, 'nnnnYYY'),

 ('service_rules', 'select', $q$SELECT 1 FROM booking.service_rules WHERE service_id = '00000000-0000-4000-a000-000000000302'$q$, 'nnYYYYY'),
 ('service_rules', 'insert', $q$INSERT INTO booking.service_rules (service_id, organization_id) VALUES ('00000000-0000-4000-a000-000000000301', '00000000-0000-4000-a000-000000000001')$q$, 'nnnnYYY'),
 ('service_rules', 'update', $q$UPDATE booking.service_rules SET min_notice_minutes = 60 WHERE service_id = '00000000-0000-4000-a000-000000000302'$q$, 'nnnnYYY'),
 ('service_rules', 'delete', $q$DELETE FROM booking.service_rules WHERE service_id = '00000000-0000-4000-a000-000000000302'$q$, 'nnnnYYY'),

 ('bookings', 'select', $q$SELECT 1 FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),
 ('bookings', 'insert', $q$INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', coalesce(booking.current_user_id(), 'svc'), '2030-03-06 15:00Z', '2030-03-06 16:00Z')$q$, 'nYYYYYY'),
 ('bookings', 'update', $q$UPDATE booking.bookings SET title = 'Renamed' WHERE id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),
 ('bookings', 'delete', $q$DELETE FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnYYY'),

 ('booking_services', 'select', $q$SELECT 1 FROM booking.booking_services WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),
 ('booking_services', 'insert', $q$INSERT INTO booking.booking_services (booking_id, organization_id, service_id, position, duration_minutes) VALUES ('00000000-0000-4000-a000-000000000401', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000302', 2, 120)$q$, 'nnYnYYY'),
 ('booking_services', 'update', $q$UPDATE booking.booking_services SET price_cents = 100 WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),
 ('booking_services', 'delete', $q$DELETE FROM booking.booking_services WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),

 ('booking_notes', 'select', $q$SELECT 1 FROM booking.booking_notes WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnYYY'),
 ('booking_notes', 'insert', $q$INSERT INTO booking.booking_notes (booking_id, organization_id, notes) VALUES ('00000000-0000-4000-a000-000000000402', '00000000-0000-4000-a000-000000000001', 'late again')$q$, 'nnnnYYY'),
 ('booking_notes', 'update', $q$UPDATE booking.booking_notes SET notes = 'edited' WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnYYY'),
 ('booking_notes', 'delete', $q$DELETE FROM booking.booking_notes WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnYYY'),

 ('booking_transitions', 'select', $q$SELECT 1 FROM booking.booking_transitions WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnYnYYY'),
 ('booking_transitions', 'insert', $q$INSERT INTO booking.booking_transitions (organization_id, booking_id, from_status, to_status, changed_by) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000401', 'pending', 'approved', 'x')$q$, 'nnnnnnY'),
 ('booking_transitions', 'update', $q$UPDATE booking.booking_transitions SET reason = 'edited' WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnnnY'),
 ('booking_transitions', 'delete', $q$DELETE FROM booking.booking_transitions WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$, 'nnnnnnY'),

 ('notifications', 'select', $q$SELECT 1 FROM booking.notifications WHERE id = '00000000-0000-4000-a000-000000000701'$q$, 'nnYnnnY'),
 ('notifications', 'insert', $q$INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message) VALUES ('00000000-0000-4000-a000-000000000001', 'u-client', 'reminder', 'See you tomorrow')$q$, 'nnnnYYY'),
 ('notifications', 'update', $q$UPDATE booking.notifications SET read_at = now() WHERE id = '00000000-0000-4000-a000-000000000701'$q$, 'nnYnnnY'),
 ('notifications', 'delete', $q$DELETE FROM booking.notifications WHERE id = '00000000-0000-4000-a000-000000000701'$q$, 'nnYnnnY'),

 ('audit_log', 'select', $q$SELECT 1 FROM booking.audit_log WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnYY'),
 ('audit_log', 'insert', $q$INSERT INTO booking.audit_log (organization_id, entity_type, action, actor_role) VALUES ('00000000-0000-4000-a000-000000000001', 'note', 'noted', 'x')$q$, 'nnnnnnY'),
 ('audit_log', 'update', $q$UPDATE booking.audit_log SET reason = 'edited' WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnnn'),
 ('audit_log', 'delete', $q$DELETE FROM booking.audit_log WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnnn'),

 ('outbox', 'select', $q$SELECT 1 FROM booking.outbox WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnYY'),
 ('outbox', 'insert', $q$INSERT INTO booking.outbox (organization_id, topic, payload) VALUES ('00000000-0000-4000-a000-000000000001', 'x', '{}')$q$, 'nnnnnnY'),
 ('outbox', 'update', $q$UPDATE booking.outbox SET attempts = attempts + 1 WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnnY'),
 ('outbox', 'delete', $q$DELETE FROM booking.outbox WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnnY'),

 ('conflicts', 'select', $q$SELECT 1 FROM booking.conflicts WHERE id = '00000000-0000-4000-a000-000000000801'$q$, 'nnnnYYY'),
 ('conflicts', 'insert', $q$INSERT INTO booking.conflicts (organization_id, resource_id, conflict_type) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101', 'double_booking')$q$, 'nnnnYYY'),
 ('conflicts', 'update', $q$UPDATE booking.conflicts SET status = 'resolved' WHERE id = '00000000-0000-4000-a000-000000000801'$q$, 'nnnnYYY'),
 ('conflicts', 'delete', $q$DELETE FROM booking.conflicts WHERE id = '00000000-0000-4000-a000-000000000801'$q$, 'nnnnYYY'),

 ('workshops', 'select', $q$SELECT 1 FROM booking.workshops WHERE id = '00000000-0000-4000-a000-000000000901'$q$, 'YYYYYYY'),
 ('workshops', 'insert', $q$INSERT INTO booking.workshops (organization_id, title) VALUES ('00000000-0000-4000-a000-000000000001', 'Soldering')$q$, 'nnnnYYY'),
 ('workshops', 'update', $q$UPDATE booking.workshops SET title = 'Intro to printing' WHERE id = '00000000-0000-4000-a000-000000000901'$q$, 'nnnnYYY'),
 ('workshops', 'delete', $q$DELETE FROM booking.workshops WHERE id = '00000000-0000-4000-a000-000000000901'$q$, 'nnnnYYY'),

 ('workshop_sessions', 'select', $q$SELECT 1 FROM booking.workshop_sessions WHERE id = '00000000-0000-4000-a000-000000000911'$q$, 'YYYYYYY'),
 ('workshop_sessions', 'insert', $q$INSERT INTO booking.workshop_sessions (organization_id, workshop_id, booking_id) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000901', '00000000-0000-4000-a000-000000000402')$q$, 'nnnnYYY'),
 ('workshop_sessions', 'update', $q$UPDATE booking.workshop_sessions SET capacity = 2 WHERE id = '00000000-0000-4000-a000-000000000911'$q$, 'nnnnYYY'),
 ('workshop_sessions', 'delete', $q$DELETE FROM booking.workshop_sessions WHERE id = '00000000-0000-4000-a000-000000000911'$q$, 'nnnnYYY'),

 ('workshop_registrations', 'select', $q$SELECT 1 FROM booking.workshop_registrations WHERE id = '00000000-0000-4000-a000-000000000921'$q$, 'nnYnYYY'),
 ('workshop_registrations', 'insert', $q$INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES ('00000000-0000-4000-a000-000000000912', coalesce(booking.current_user_id(), 'svc'))$q$, 'nYYYYYY'),
 ('workshop_registrations', 'update', $q$UPDATE booking.workshop_registrations SET metadata = '{"diet": "vegan"}' WHERE id = '00000000-0000-4000-a000-000000000921'$q$, 'nnYnYYY'),
 ('workshop_registrations', 'delete', $q$DELETE FROM booking.workshop_registrations WHERE id = '00000000-0000-4000-a000-000000000921'$q$, 'nnnnYYY'),

 -- series are written by their RPCs; only service_role writes the table directly
 ('booking_series', 'select', $q$SELECT 1 FROM booking.booking_series WHERE id = '00000000-0000-4000-a000-000000000931'$q$, 'nnYnYYY'),
 ('booking_series', 'insert', $q$INSERT INTO booking.booking_series (organization_id, resource_id, booked_by, rrule, frequency, first_date, local_start, duration, time_zone) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101', coalesce(booking.current_user_id(), 'svc'), 'FREQ=DAILY;COUNT=2', 'daily', '2031-02-03', '10:00', '1 hour', 'America/New_York')$q$, 'nnnnnnY'),
 ('booking_series', 'update', $q$UPDATE booking.booking_series SET title = 'Weekly lesson' WHERE id = '00000000-0000-4000-a000-000000000931'$q$, 'nnnnnnY'),
 ('booking_series', 'delete', $q$DELETE FROM booking.booking_series WHERE id = '00000000-0000-4000-a000-000000000931'$q$, 'nnnnnnY'),

 -- events: members read the places and kits, staff manage them
 ('locations', 'select', $q$SELECT 1 FROM booking.locations WHERE id = '00000000-0000-4000-a000-000000000961'$q$, 'nnYYYYY'),
 ('locations', 'insert', $q$INSERT INTO booking.locations (organization_id, name) VALUES ('00000000-0000-4000-a000-000000000001', 'Annex')$q$, 'nnnnYYY'),
 ('locations', 'update', $q$UPDATE booking.locations SET city = 'Miami' WHERE id = '00000000-0000-4000-a000-000000000961'$q$, 'nnnnYYY'),
 ('locations', 'delete', $q$DELETE FROM booking.locations WHERE id = '00000000-0000-4000-a000-000000000961'$q$, 'nnnnYYY'),
 ('kit_templates', 'select', $q$SELECT 1 FROM booking.kit_templates WHERE id = '00000000-0000-4000-a000-000000000962'$q$, 'nnYYYYY'),
 ('kit_templates', 'insert', $q$INSERT INTO booking.kit_templates (organization_id, name) VALUES ('00000000-0000-4000-a000-000000000001', 'Light kit')$q$, 'nnnnYYY'),
 ('kit_templates', 'update', $q$UPDATE booking.kit_templates SET description = 'Two speakers' WHERE id = '00000000-0000-4000-a000-000000000962'$q$, 'nnnnYYY'),
 ('kit_templates', 'delete', $q$DELETE FROM booking.kit_templates WHERE id = '00000000-0000-4000-a000-00000000096a'$q$, 'nnnnYYY'),
 ('kit_instances', 'select', $q$SELECT 1 FROM booking.kit_instances WHERE id = '00000000-0000-4000-a000-000000000963'$q$, 'nnYYYYY'),
 ('kit_instances', 'insert', $q$INSERT INTO booking.kit_instances (organization_id, template_id, serial_number) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000962', 'SK-2')$q$, 'nnnnYYY'),
 ('kit_instances', 'update', $q$UPDATE booking.kit_instances SET status = 'maintenance' WHERE id = '00000000-0000-4000-a000-000000000963'$q$, 'nnnnYYY'),
 ('kit_instances', 'delete', $q$DELETE FROM booking.kit_instances WHERE id = '00000000-0000-4000-a000-000000000969'$q$, 'nnnnYYY'),
 -- the booker sees the event; its people see it and what hangs on it; staff manage it
 ('event_instances', 'select', $q$SELECT 1 FROM booking.event_instances WHERE id = '00000000-0000-4000-a000-000000000960'$q$, 'nnYYYYY'),
 ('event_instances', 'insert', $q$INSERT INTO booking.event_instances (organization_id, booking_id, starts_at, ends_at) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000952', now(), now())$q$, 'nnnnnnY'),
 ('event_instances', 'update', $q$UPDATE booking.event_instances SET notes = 'Bring cables' WHERE id = '00000000-0000-4000-a000-000000000960'$q$, 'nnnnYYY'),
 ('event_instances', 'delete', $q$DELETE FROM booking.event_instances WHERE id = '00000000-0000-4000-a000-000000000960'$q$, 'nnnnYYY'),
 ('event_team_members', 'select', $q$SELECT 1 FROM booking.event_team_members WHERE id = '00000000-0000-4000-a000-000000000964'$q$, 'nnnYYYY'),
 ('event_team_members', 'insert', $q$INSERT INTO booking.event_team_members (organization_id, event_instance_id, user_id, role) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'u-new', 'helper')$q$, 'nnnnYYY'),
 ('event_team_members', 'update', $q$UPDATE booking.event_team_members SET role = 'lead' WHERE id = '00000000-0000-4000-a000-000000000964'$q$, 'nnnnYYY'),
 ('event_team_members', 'delete', $q$DELETE FROM booking.event_team_members WHERE id = '00000000-0000-4000-a000-000000000964'$q$, 'nnnnYYY'),
 ('activities', 'select', $q$SELECT 1 FROM booking.activities WHERE id = '00000000-0000-4000-a000-000000000966'$q$, 'nnnYYYY'),
 ('activities', 'insert', $q$INSERT INTO booking.activities (organization_id, event_instance_id, title) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'Games')$q$, 'nnnnYYY'),
 ('activities', 'update', $q$UPDATE booking.activities SET description = 'Loud' WHERE id = '00000000-0000-4000-a000-000000000966'$q$, 'nnnnYYY'),
 ('activities', 'delete', $q$DELETE FROM booking.activities WHERE id = '00000000-0000-4000-a000-000000000966'$q$, 'nnnnYYY'),
 ('staff_assignments', 'select', $q$SELECT 1 FROM booking.staff_assignments WHERE id = '00000000-0000-4000-a000-000000000965'$q$, 'nnnYYYY'),
 ('staff_assignments', 'insert', $q$INSERT INTO booking.staff_assignments (organization_id, event_instance_id, user_id, role, starts_at, ends_at) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'u-new', 'runner', now(), now())$q$, 'nnnnYYY'),
 ('staff_assignments', 'update', $q$UPDATE booking.staff_assignments SET feedback = 'Fine' WHERE id = '00000000-0000-4000-a000-000000000965'$q$, 'nnnYYYY'),
 ('staff_assignments', 'delete', $q$DELETE FROM booking.staff_assignments WHERE id = '00000000-0000-4000-a000-000000000965'$q$, 'nnnnYYY'),
 ('activity_kits', 'select', $q$SELECT 1 FROM booking.activity_kits WHERE id = '00000000-0000-4000-a000-000000000967'$q$, 'nnnYYYY'),
 ('activity_kits', 'insert', $q$INSERT INTO booking.activity_kits (organization_id, activity_id, event_instance_id, starts_at, ends_at) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000966', '00000000-0000-4000-a000-000000000960', now(), now())$q$, 'nnnnYYY'),
 ('activity_kits', 'update', $q$UPDATE booking.activity_kits SET notes = 'Check the mixer' WHERE id = '00000000-0000-4000-a000-000000000967'$q$, 'nnnYYYY'),
 ('activity_kits', 'delete', $q$DELETE FROM booking.activity_kits WHERE id = '00000000-0000-4000-a000-000000000967'$q$, 'nnnnYYY'),
 -- the log: its event's people and staff read it; only service_role adds to it; nobody edits it
 ('event_state_transitions', 'select', $q$SELECT 1 FROM booking.event_state_transitions WHERE event_instance_id = '00000000-0000-4000-a000-000000000960'$q$, 'nnnYYYY'),
 ('event_state_transitions', 'insert', $q$INSERT INTO booking.event_state_transitions (organization_id, event_instance_id, machine, entity_id, to_state, changed_by) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'event_instance', '00000000-0000-4000-a000-000000000960', 'scheduled', 'svc')$q$, 'nnnnnnY'),
 ('event_state_transitions', 'update', $q$UPDATE booking.event_state_transitions SET reason = 'rewritten' WHERE event_instance_id = '00000000-0000-4000-a000-000000000960'$q$, 'nnnnnnn'),
 ('event_state_transitions', 'delete', $q$DELETE FROM booking.event_state_transitions WHERE event_instance_id = '00000000-0000-4000-a000-000000000960'$q$, 'nnnnnnn'),
 ('event_issues', 'select', $q$SELECT 1 FROM booking.event_issues WHERE id = '00000000-0000-4000-a000-000000000968'$q$, 'nnnYYYY'),
 ('event_issues', 'insert', $q$INSERT INTO booking.event_issues (organization_id, event_instance_id, issue_type, description, severity) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000960', 'safety', 'Wet floor', 'high')$q$, 'nnnYYYY'),
 ('event_issues', 'update', $q$UPDATE booking.event_issues SET status = 'in_progress' WHERE id = '00000000-0000-4000-a000-000000000968'$q$, 'nnnnYYY'),
 ('event_issues', 'delete', $q$DELETE FROM booking.event_issues WHERE id = '00000000-0000-4000-a000-000000000968'$q$, 'nnnnYYY'),

 -- credits: members read their organization's policy, its owners and admins set it; a person
 -- reads their own account, lots and ledger, staff their organization's; nobody writes those
 ('credit_policies', 'select', $q$SELECT 1 FROM booking.credit_policies WHERE organization_id = '00000000-0000-4000-a000-000000000002'$q$, 'nYnnnnY'),
 ('credit_policies', 'insert', $q$INSERT INTO booking.credit_policies (organization_id) VALUES ('00000000-0000-4000-a000-000000000001')$q$, 'nnnnnYY'),
 ('credit_policies', 'update', $q$UPDATE booking.credit_policies SET late_cancellation = 'refund' WHERE organization_id = '00000000-0000-4000-a000-000000000002'$q$, 'nYnnnnY'),
 ('credit_policies', 'delete', $q$DELETE FROM booking.credit_policies WHERE organization_id = '00000000-0000-4000-a000-000000000002'$q$, 'nYnnnnY'),
 ('credit_accounts', 'select', $q$SELECT 1 FROM booking.credit_accounts WHERE user_id = 'u-client'$q$, 'nnYnYYY'),
 ('credit_accounts', 'insert', $q$INSERT INTO booking.credit_accounts (organization_id, user_id) VALUES ('00000000-0000-4000-a000-000000000001', 'u-new')$q$, 'nnnnnnn'),
 ('credit_accounts', 'update', $q$UPDATE booking.credit_accounts SET balance = 100 WHERE user_id = 'u-client'$q$, 'nnnnnnn'),
 ('credit_accounts', 'delete', $q$DELETE FROM booking.credit_accounts WHERE user_id = 'u-client'$q$, 'nnnnnnn'),
 ('credit_transactions', 'select', $q$SELECT 1 FROM booking.credit_transactions WHERE payment_reference = 'rls-pay'$q$, 'nnYnYYY'),
 ('credit_transactions', 'insert', $q$INSERT INTO booking.credit_transactions (organization_id, account_id, user_id, transaction_type, amount, created_by) VALUES ('00000000-0000-4000-a000-000000000001', gen_random_uuid(), 'u-client', 'adjustment', 5, 'x')$q$, 'nnnnnnn'),
 ('credit_transactions', 'update', $q$UPDATE booking.credit_transactions SET amount = 9 WHERE payment_reference = 'rls-pay'$q$, 'nnnnnnn'),
 ('credit_transactions', 'delete', $q$DELETE FROM booking.credit_transactions WHERE payment_reference = 'rls-pay'$q$, 'nnnnnnn'),
 ('credit_lots', 'select', $q$SELECT 1 FROM booking.credit_lots WHERE amount = 5$q$, 'nnYnYYY'),
 ('credit_lots', 'insert', $q$INSERT INTO booking.credit_lots (id, organization_id, account_id, amount, remaining) VALUES (gen_random_uuid(), '00000000-0000-4000-a000-000000000001', gen_random_uuid(), 1, 1)$q$, 'nnnnnnn'),
 ('credit_lots', 'update', $q$UPDATE booking.credit_lots SET remaining = 0 WHERE amount = 5$q$, 'nnnnnnn'),
 ('credit_lots', 'delete', $q$DELETE FROM booking.credit_lots WHERE amount = 5$q$, 'nnnnnnn'),

 -- people: a profile is its person's (others read cards: people.sql); a public organization's
 -- professionals are on its booking page, staff link them, the professional edits their own;
 -- a student is seen by staff and guardians, registered by a guardian for themselves; the
 -- admission log is read with the student and written by its trigger only
 ('profiles', 'select', $q$SELECT 1 FROM booking.profiles WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('profiles', 'insert', $q$INSERT INTO booking.profiles (user_id, display_name) VALUES ('u-member', 'Mia')$q$, 'nnnYnnY'),
 ('profiles', 'update', $q$UPDATE booking.profiles SET display_name = 'Renamed' WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('profiles', 'delete', $q$DELETE FROM booking.profiles WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('professionals', 'select', $q$SELECT 1 FROM booking.professionals WHERE id = '00000000-0000-4000-a000-0000000009b1'$q$, 'YYYYYYY'),
 ('professionals', 'insert', $q$INSERT INTO booking.professionals (organization_id, user_id, resource_id) VALUES ('00000000-0000-4000-a000-000000000001', 'u-client', '00000000-0000-4000-a000-0000000009a2')$q$, 'nnnnYYY'),
 ('professionals', 'update', $q$UPDATE booking.professionals SET bio = 'Hello' WHERE id = '00000000-0000-4000-a000-0000000009b1'$q$, 'nnnYYYY'),
 ('professionals', 'delete', $q$DELETE FROM booking.professionals WHERE id = '00000000-0000-4000-a000-0000000009b1'$q$, 'nnnnYYY'),
 ('students', 'select', $q$SELECT 1 FROM booking.students WHERE id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnYnYYY'),
 ('students', 'insert', $q$INSERT INTO booking.students (organization_id, first_name, last_name, primary_contact_id) VALUES ('00000000-0000-4000-a000-000000000001', 'New', 'Kid', 'u-client')$q$, 'nnYnYYY'),
 ('students', 'update', $q$UPDATE booking.students SET medical_notes = 'none' WHERE id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnYnYYY'),
 ('students', 'delete', $q$DELETE FROM booking.students WHERE id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnnnYYY'),
 ('student_admission_transitions', 'select', $q$SELECT 1 FROM booking.student_admission_transitions WHERE student_id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnYnYYY'),
 ('student_admission_transitions', 'insert', $q$INSERT INTO booking.student_admission_transitions (organization_id, student_id, to_state, changed_by) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009c1', 'admitted', 'x')$q$, 'nnnnnnn'),
 ('student_admission_transitions', 'update', $q$UPDATE booking.student_admission_transitions SET reason = 'x' WHERE student_id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnnnnnn'),
 ('student_admission_transitions', 'delete', $q$DELETE FROM booking.student_admission_transitions WHERE student_id = '00000000-0000-4000-a000-0000000009c1'$q$, 'nnnnnnn'),

 -- engagement: a thread and its messages are its two participants' (written by the RPCs
 -- only; a sender edits their message's body; service_role may delete); favourites are their
 -- person's; a published review of a public organization is anyone's to read, written by the
 -- booker of a completed booking, answered by staff, deleted by service_role only
 ('message_threads', 'select', $q$SELECT 1 FROM booking.message_threads WHERE created_by_id = 'u-client'$q$, 'nnYnYnY'),
 ('message_threads', 'insert', $q$INSERT INTO booking.message_threads (organization_id, created_by_id, recipient_id) VALUES ('00000000-0000-4000-a000-000000000001', 'u-member', 'u-admin')$q$, 'nnnnnnn'),
 ('message_threads', 'update', $q$UPDATE booking.message_threads SET subject = 'Changed' WHERE created_by_id = 'u-client'$q$, 'nnnnnnn'),
 ('message_threads', 'delete', $q$DELETE FROM booking.message_threads WHERE created_by_id = 'u-client'$q$, 'nnnnnnY'),
 ('messages', 'select', $q$SELECT 1 FROM booking.messages WHERE sender_id = 'u-client'$q$, 'nnYnYnY'),
 ('messages', 'insert', $q$INSERT INTO booking.messages (thread_id, organization_id, sender_id, body) SELECT id, organization_id, 'u-client', 'x' FROM booking.message_threads$q$, 'nnnnnnn'),
 ('messages', 'update', $q$UPDATE booking.messages SET body = 'Edited' WHERE sender_id = 'u-client'$q$, 'nnYnnnn'),
 ('messages', 'delete', $q$DELETE FROM booking.messages WHERE sender_id = 'u-client'$q$, 'nnnnnnY'),
 ('customer_favorites', 'select', $q$SELECT 1 FROM booking.customer_favorites WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('customer_favorites', 'insert', $q$INSERT INTO booking.customer_favorites (user_id, organization_id, resource_id) VALUES ('u-member', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101')$q$, 'nnnYnnY'),
 ('customer_favorites', 'update', $q$UPDATE booking.customer_favorites SET notes = 'Best' WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('customer_favorites', 'delete', $q$DELETE FROM booking.customer_favorites WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('reviews', 'select', $q$SELECT 1 FROM booking.reviews WHERE booking_id = '00000000-0000-4000-a000-0000000009d2'$q$, 'YYYYYYY'),
 ('reviews', 'insert', $q$INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009d1', '00000000-0000-4000-a000-000000000102', 'u-client', 5)$q$, 'nnYnnnY'),
 ('reviews', 'update', $q$UPDATE booking.reviews SET reply = 'Thank you' WHERE booking_id = '00000000-0000-4000-a000-0000000009d2'$q$, 'nnnnYYY'),
 ('reviews', 'delete', $q$DELETE FROM booking.reviews WHERE booking_id = '00000000-0000-4000-a000-0000000009d2'$q$, 'nnnnnnY'),

 -- calendars: members see their organization's integrations and links, staff manage them;
 -- tokens are service_role's alone; events and busy time are read by staff and written by
 -- their functions only (service_role may delete)
 ('calendar_integrations', 'select', $q$SELECT 1 FROM booking.calendar_integrations WHERE id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnYYYYY'),
 ('calendar_integrations', 'insert', $q$INSERT INTO booking.calendar_integrations (organization_id, provider, calendar_id) VALUES ('00000000-0000-4000-a000-000000000001', 'ics', 'new')$q$, 'nnnnYYY'),
 ('calendar_integrations', 'update', $q$UPDATE booking.calendar_integrations SET name = 'Printer' WHERE id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnYYY'),
 ('calendar_integrations', 'delete', $q$DELETE FROM booking.calendar_integrations WHERE id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnYYY'),
 ('calendar_credentials', 'select', $q$SELECT 1 FROM booking.calendar_credentials WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnnnY'),
 ('calendar_credentials', 'insert', $q$INSERT INTO booking.calendar_credentials (integration_id, organization_id, access_token) VALUES ('00000000-0000-4000-a000-0000000009e2', '00000000-0000-4000-a000-000000000001', 't')$q$, 'nnnnnnY'),
 ('calendar_credentials', 'update', $q$UPDATE booking.calendar_credentials SET access_token = 'stolen' WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnnnY'),
 ('calendar_credentials', 'delete', $q$DELETE FROM booking.calendar_credentials WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnnnY'),
 ('calendar_integration_resources', 'select', $q$SELECT 1 FROM booking.calendar_integration_resources WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnYYYYY'),
 ('calendar_integration_resources', 'insert', $q$INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id) VALUES ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000101', '00000000-0000-4000-a000-000000000001')$q$, 'nnnnYYY'),
 ('calendar_integration_resources', 'update', $q$UPDATE booking.calendar_integration_resources SET created_at = now() WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnYYY'),
 ('calendar_integration_resources', 'delete', $q$DELETE FROM booking.calendar_integration_resources WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnYYY'),
 ('calendar_events', 'select', $q$SELECT 1 FROM booking.calendar_events WHERE external_id = 'rls'$q$, 'nnnnYYY'),
 ('calendar_events', 'insert', $q$INSERT INTO booking.calendar_events (organization_id, integration_id, external_id, starts_at, ends_at) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009e1', 'forged', now(), now() + interval '1 hour')$q$, 'nnnnnnn'),
 ('calendar_events', 'update', $q$UPDATE booking.calendar_events SET title = 'x' WHERE external_id = 'rls'$q$, 'nnnnnnn'),
 ('calendar_events', 'delete', $q$DELETE FROM booking.calendar_events WHERE external_id = 'rls'$q$, 'nnnnnnY'),
 ('calendar_busy', 'select', $q$SELECT 1 FROM booking.calendar_busy WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnYYY'),
 ('calendar_busy', 'insert', $q$INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency) SELECT event_id, organization_id, integration_id, starts_at, ends_at, status, transparency FROM booking.calendar_busy$q$, 'nnnnnnn'),
 ('calendar_busy', 'update', $q$UPDATE booking.calendar_busy SET status = 'cancelled' WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnnnn'),
 ('calendar_busy', 'delete', $q$DELETE FROM booking.calendar_busy WHERE integration_id = '00000000-0000-4000-a000-0000000009e1'$q$, 'nnnnnnY'),

 ('external_requests', 'select', $q$SELECT 1 FROM booking.external_requests WHERE external_id = 'rls'$q$, 'nnYnYYY'),
 ('external_requests', 'insert', $q$INSERT INTO booking.external_requests (organization_id, source, external_id, request_type, request_data, submitted_by) VALUES ('00000000-0000-4000-a000-000000000001', 'api', 'forged', 'inquiry', '{}', 'u-client')$q$, 'nnnnnnn'),
 ('external_requests', 'update', $q$UPDATE booking.external_requests SET priority = 'urgent' WHERE external_id = 'rls'$q$, 'nnnnYYY'),
 ('external_requests', 'delete', $q$DELETE FROM booking.external_requests WHERE external_id = 'rls'$q$, 'nnnnnnY'),
 ('request_attachments', 'select', $q$SELECT 1 FROM booking.request_attachments WHERE file_name = 'rls.pdf'$q$, 'nnYnYYY'),
 ('request_attachments', 'insert', $q$INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000009f1', 'more.pdf', 'application/pdf', 1, 'https://files.example/more.pdf')$q$, 'nnYnYYY'),
 ('request_attachments', 'update', $q$UPDATE booking.request_attachments SET file_name = 'renamed.pdf' WHERE file_name = 'rls.pdf'$q$, 'nnnnYYY'),
 ('request_attachments', 'delete', $q$DELETE FROM booking.request_attachments WHERE file_name = 'rls.pdf'$q$, 'nnnnYYY'),
 ('digests', 'select', $q$SELECT 1 FROM booking.digests WHERE period_start_date = '2030-01-07'$q$, 'nnnnYYY'),
 ('digests', 'insert', $q$INSERT INTO booking.digests (organization_id, digest_type, period_start_date, period_end_date, time_zone, period_start, period_end, content, summary, generated_by) VALUES ('00000000-0000-4000-a000-000000000001', 'daily', '2030-01-08', '2030-01-09', 'UTC', '2030-01-08', '2030-01-09', '{}', 'forged', 'x')$q$, 'nnnnnnn'),
 ('digests', 'update', $q$UPDATE booking.digests SET is_archived = true WHERE period_start_date = '2030-01-07'$q$, 'nnnnnYY'),
 ('digests', 'delete', $q$DELETE FROM booking.digests WHERE period_start_date = '2030-01-07'$q$, 'nnnnnnY'),
 -- templates: members read their organization's, owners and admins write them; analytics
 -- events are read by the organization's staff, written by track_event only, changed by nobody
 -- and removed by prune_analytics (whole months) only
 ('notification_templates', 'select', $q$SELECT 1 FROM booking.notification_templates WHERE id = '00000000-0000-4000-a000-0000000009f1'$q$, 'nnYYYYY'),
 ('notification_templates', 'insert', $q$INSERT INTO booking.notification_templates (organization_id, template_key, body) VALUES ('00000000-0000-4000-a000-000000000001', 'message', 'From {{sender_name}}')$q$, 'nnnnnYY'),
 ('notification_templates', 'update', $q$UPDATE booking.notification_templates SET is_active = false WHERE id = '00000000-0000-4000-a000-0000000009f1'$q$, 'nnnnnYY'),
 ('notification_templates', 'delete', $q$DELETE FROM booking.notification_templates WHERE id = '00000000-0000-4000-a000-0000000009f1'$q$, 'nnnnnYY'),
 ('analytics_events', 'select', $q$SELECT 1 FROM booking.analytics_events WHERE event_type = 'rls'$q$, 'nnnnYYY'),
 ('analytics_events', 'insert', $q$INSERT INTO booking.analytics_events (organization_id, event_type) VALUES ('00000000-0000-4000-a000-000000000001', 'forged')$q$, 'nnnnnnn'),
 ('analytics_events', 'update', $q$UPDATE booking.analytics_events SET verified = true WHERE event_type = 'rls'$q$, 'nnnnnnn'),
 ('analytics_events', 'delete', $q$DELETE FROM booking.analytics_events WHERE event_type = 'rls'$q$, 'nnnnnnn'),

 -- views (read only): what each persona reads of each, as row-level security decides
 ('profile_cards', 'select', $q$SELECT 1 FROM booking.profile_cards WHERE user_id = 'u-client'$q$, 'nnYYYYn'),
 ('customer_favorites_view', 'select', $q$SELECT 1 FROM booking.customer_favorites_view WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('organization_reviews_with_counts', 'select', $q$SELECT 1 FROM booking.organization_reviews_with_counts WHERE booking_id = '00000000-0000-4000-a000-0000000009d2' AND total_reviews = 1$q$, 'YYYYYYY'),
 ('audit_log_view', 'select', $q$SELECT 1 FROM booking.audit_log_view WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnnnnYY'),
 ('notifications_view', 'select', $q$SELECT 1 FROM booking.notifications_view WHERE recipient_id = 'u-client'$q$, 'nnYnnnY'),
 ('blocked_times_view', 'select', $q$SELECT 1 FROM booking.blocked_times_view WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnYYYYY'),
 ('profile_metadata_view', 'select', $q$SELECT 1 FROM booking.profile_metadata_view WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('user_preferences_view', 'select', $q$SELECT 1 FROM booking.user_preferences_view WHERE user_id = 'u-client'$q$, 'nnYnnnY'),
 ('resource_daily_usage', 'select', $q$SELECT 1 FROM booking.resource_daily_usage WHERE organization_id = '00000000-0000-4000-a000-000000000001'$q$, 'nnYnYYY');

DO $$
DECLARE
  personas constant text[] := ARRAY['anon', 'outsider', 'client', 'member', 'staff', 'admin', 'service_role'];
  k        record;
  i        integer;
  v_rows   integer;
  v_got    text;
  v_want   text;
  v_bad    text[] := '{}';
  v_cases  integer := 0;
  v_tables text[];
  v_views  text[];
BEGIN
  -- every table of the extension is in the matrix, with all four commands
  SELECT array_agg(c.relname::text ORDER BY c.relname) INTO v_tables
  FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'booking_ext'
  WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'booking'::regnamespace;
  SELECT array_agg(c.relname::text ORDER BY c.relname) INTO v_views
  FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'booking_ext'
  WHERE c.relkind = 'v' AND c.relnamespace = 'booking'::regnamespace;
  -- booking_internal's tables (the table registry) are the owner's alone
  PERFORM pg_temp.check(NOT EXISTS (SELECT FROM pg_class c, unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role)
                                    WHERE c.relnamespace = 'booking_internal'::regnamespace AND c.relkind = 'r'
                                      AND has_table_privilege(r.role, c.oid, 'SELECT, INSERT, UPDATE, DELETE')),
                        'an API role may touch a table of booking_internal');
  PERFORM pg_temp.check(v_tables || v_views = (SELECT array_agg(DISTINCT tbl ORDER BY tbl) FROM rls_case WHERE tbl = ANY (v_tables))
                                              || (SELECT array_agg(DISTINCT tbl ORDER BY tbl) FROM rls_case WHERE tbl = ANY (v_views)),
                        format('matrix %s vs extension tables %s and views %s', (SELECT array_agg(DISTINCT tbl ORDER BY tbl) FROM rls_case), v_tables, v_views));
  PERFORM pg_temp.check(NOT EXISTS (SELECT FROM rls_case WHERE tbl <> ALL (v_tables || v_views)), 'the matrix names only tables and views of the extension');
  PERFORM pg_temp.check((SELECT bool_and(n = 4) FROM (SELECT count(DISTINCT cmd) n FROM rls_case WHERE tbl = ANY (v_tables) GROUP BY tbl) x), 'four commands per table');
  PERFORM pg_temp.check((SELECT bool_and(cmd = 'select') FROM rls_case WHERE tbl = ANY (v_views)), 'views are read');

  FOR k IN SELECT * FROM rls_case ORDER BY tbl, cmd LOOP
    FOR i IN 1 .. array_length(personas, 1) LOOP
      PERFORM pg_temp.act_as(personas[i]);
      BEGIN
        EXECUTE k.sql;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        -- roll the case back, carrying the row count out in the message
        RAISE EXCEPTION USING ERRCODE = 'BKT00', MESSAGE = v_rows::text;
      EXCEPTION
        WHEN SQLSTATE 'BKT00' THEN
          v_got := CASE WHEN SQLERRM::integer > 0 THEN 'Y' ELSE 'n' END;
        WHEN insufficient_privilege THEN
          v_got := 'n';
        WHEN OTHERS THEN
          v_got := 'error ' || SQLSTATE || ': ' || SQLERRM;
      END;
      PERFORM pg_temp.act_as('superuser');
      v_want := substr(k.expect, i, 1);
      v_cases := v_cases + 1;
      IF v_got <> v_want THEN
        v_bad := v_bad || format('%s %s as %s: expected %s, got %s', k.tbl, k.cmd, personas[i],
                                 CASE v_want WHEN 'Y' THEN 'allowed' ELSE 'denied' END,
                                 CASE v_got WHEN 'Y' THEN 'allowed' WHEN 'n' THEN 'denied' ELSE v_got END);
      END IF;
    END LOOP;
  END LOOP;
  PERFORM pg_temp.check(v_cases = (51 * 4 + 9) * 7, format('%s cases run', v_cases));
  IF cardinality(v_bad) > 0 THEN
    RAISE EXCEPTION 'RLS matrix: % of % cases differ:%', cardinality(v_bad), v_cases,
                    E'\n  ' || array_to_string(v_bad, E'\n  ');
  END IF;
END $$;
