-- Calendars: an integration linked to the 3D printer; deliveries applied once whatever their
-- order and repetition; busy time in every availability answer and on every booking path
-- (confirmed always, tentative per the integration, cancelled and transparent never, no
-- buffers, all-day events as the integration's local days, recurring events expanded with
-- their exceptions and overrides); the sync state machine and its one notification; the
-- credentials kept from the API; the calendar.push outbox events.
CREATE FUNCTION pg_temp.slots(p_day text) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(to_char(slot_start AT TIME ZONE 'America/New_York', 'HH24:MI') ORDER BY slot_start)
  FROM booking.get_available_slots('00000000-0000-4000-a000-000000000102', (p_day || ' 00:00 America/New_York')::timestamptz,
                                   (p_day || ' 23:59 America/New_York')::timestamptz, 60)
$$;
CREATE FUNCTION pg_temp.deliver(p_events jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.act_as('service_role');
  RETURN booking.upsert_calendar_events('00000000-0000-4000-a000-0000000007c1', p_events);
END $$;

-- An integration of the lab's (its time zone: the organization's), linked to the printer.
DO $$
DECLARE
  i booking.calendar_integrations;
BEGIN
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.calendar_integrations (organization_id, provider, calendar_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'google', 'x@example.org')$q$) = '42501/', 'staff connect calendars');
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, name)
  VALUES ('00000000-0000-4000-a000-0000000007c1', '00000000-0000-4000-a000-000000000001', 'google', 'printer@example.org', 'Printer')
  RETURNING * INTO i;
  PERFORM pg_temp.check((i.time_zone, i.sync_status) = ('America/New_York', 'pending'), 'the organization''s zone; pending');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.calendar_integrations (organization_id, provider, calendar_id, time_zone)
    VALUES ('00000000-0000-4000-a000-000000000001', 'ics', 'feed', 'Mars/Olympus')$q$) = '22023/', 'a real time zone');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.calendar_integrations SET sync_status = 'success'$q$) = '42501/',
                        'the sync fields are the worker''s');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.calendar_integrations (organization_id, provider, calendar_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'google', 'printer@example.org')$q$) LIKE '23505/%', 'one integration per calendar');
  INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id)
  VALUES (i.id, '00000000-0000-4000-a000-000000000102', i.organization_id);
  PERFORM pg_temp.check(pg_temp.refusal('SELECT 1 FROM booking.calendar_credentials') = '42501/', 'staff never read the tokens');
  PERFORM pg_temp.act_as('service_role');
  INSERT INTO booking.calendar_credentials (integration_id, organization_id, access_token, refresh_token)
  VALUES (i.id, i.organization_id, 'ya29.secret', 'refresh-secret');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT access_token FROM booking.calendar_credentials') = '42501/', 'nor do admins');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Busy time: a confirmed hour takes its slots from every answer and every booking path.
DO $$
DECLARE
  r jsonb;
BEGIN
  PERFORM pg_temp.check(pg_temp.slots('2030-03-04') = '{10:00,11:00,12:00,14:00,15:00,16:00,17:00}', 'the printer''s Monday, before');
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-01T00:00:00Z", "title": "Maintenance",
                          "start": "2030-03-04T14:30:00-05:00", "end": "2030-03-04T15:15:00-05:00"},
                         {"external_id": "e2", "status": "tentative", "start": "2030-03-04 16:00", "end": "2030-03-04 17:00"},
                         {"external_id": "e3", "transparency": "transparent", "start": "2030-03-04T10:00:00Z", "end": "2030-03-04T23:00:00Z"},
                         {"external_id": "e4", "status": "cancelled", "start": "2030-03-04T15:00:00Z", "end": "2030-03-04T16:00:00Z"}]');
  PERFORM pg_temp.check(r = '{"inserted": 4, "updated": 0, "deleted": 0, "unchanged": 0}', 'four events in: ' || r::text);
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-04') = '{10:00,11:00,12:00,17:00}',
                        'the confirmed and the tentative event take their slots; free and cancelled ones do not: ' || pg_temp.slots('2030-03-04')::text);
  PERFORM pg_temp.check(booking.booking_refusal('00000000-0000-4000-a000-000000000102', '2030-03-04 14:00 America/New_York',
                                                '2030-03-04 14:30 America/New_York') IS NULL,
                        'no buffer around an external event: ending as it starts is fine');
  PERFORM pg_temp.check(booking.booking_refusal('00000000-0000-4000-a000-000000000102', '2030-03-04 15:00 America/New_York',
                                                '2030-03-04 16:00 America/New_York') = 'external_event', 'the refusal names it');
  PERFORM pg_temp.check(NOT booking.can_book_resource('00000000-0000-4000-a000-000000000102', '2030-03-04 15:00 America/New_York',
                                                      '2030-03-04 16:00 America/New_York'), 'can_book_resource agrees');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal_text($q$SELECT booking.book('00000000-0000-4000-a000-000000000102', '2030-03-04 15:00 America/New_York',
                                                                    '2030-03-04 16:00 America/New_York')$q$)
                        = 'PT409/external_event/That time is taken in a linked calendar.', 'book() refuses it');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
            '2030-03-04 16:30 America/New_York', '2030-03-04 17:00 America/New_York')$q$) = 'PT409/external_event',
                        'and so does a direct insert (the tentative event)');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-000000000102', '2030-03-04 15:00 America/New_York',
                                                               '2030-03-04 16:00 America/New_York')$q$) = 'PT409/external_event',
                        'staff through book() too');
  UPDATE booking.calendar_integrations SET tentative_is_busy = false;
  PERFORM pg_temp.check(pg_temp.slots('2030-03-04') = '{10:00,11:00,12:00,16:00,17:00}', 'tentative events free when the integration says so');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.calendar_events), 'a client reads no external event');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.calendar_integrations SET tentative_is_busy = true;
END $$;

-- Replays, reorderings and deletions leave one row per event in its latest state.
DO $$
DECLARE
  r jsonb;
BEGIN
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-01T00:00:00Z", "title": "Maintenance",
                          "start": "2030-03-04T14:30:00-05:00", "end": "2030-03-04T15:15:00-05:00"}]');
  PERFORM pg_temp.check(r ->> 'unchanged' = '1', 'the same event again changes nothing');
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-02T00:00:00Z", "title": "Maintenance (moved)",
                          "start": "2030-03-04T10:00:00-05:00", "end": "2030-03-04T11:00:00-05:00"}]');
  PERFORM pg_temp.check(r ->> 'updated' = '1', 'a newer version moves it');
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-01T12:00:00Z", "title": "stale",
                          "start": "2030-03-04T14:30:00-05:00", "end": "2030-03-04T15:15:00-05:00"}]');
  PERFORM pg_temp.check(r ->> 'unchanged' = '1', 'an older version delivered late changes nothing');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-04') = '{11:00,12:00,14:00,15:00,17:00}', 'busy where the newest version says: ' || pg_temp.slots('2030-03-04')::text);
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-03T00:00:00Z", "deleted": true}]');
  PERFORM pg_temp.check(r ->> 'deleted' = '1', 'a deletion');
  r := pg_temp.deliver('[{"external_id": "e1", "updated": "2030-01-02T00:00:00Z", "title": "Maintenance (moved)",
                          "start": "2030-03-04T10:00:00-05:00", "end": "2030-03-04T11:00:00-05:00"}]');
  PERFORM pg_temp.check(r ->> 'unchanged' = '1', 'the deleted event''s older copy does not bring it back');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-04') = '{10:00,11:00,12:00,14:00,15:00,17:00}', 'free again');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.calendar_events WHERE external_id = 'e1') = 1, 'one row, whatever came');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT pg_temp.deliver('[{"external_id": "ok", "start": "2030-03-05T10:00:00Z", "end": "2030-03-05T11:00:00Z"},
                                                                    {"external_id": "bad", "start": "2030-03-05T10:00:00Z", "end": "2030-03-05T09:00:00Z"}]')$q$)
                        = '22023/', 'a bad event refuses the whole delivery');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.calendar_events WHERE external_id = 'ok'), 'nothing of it written');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT pg_temp.deliver((SELECT jsonb_agg(jsonb_build_object('external_id', 'n' || i, 'start', '2030-03-05T10:00:00Z', 'end', '2030-03-05T11:00:00Z'))
                                                                    FROM generate_series(1, 2001) i))$q$) = '22023/', 'at most 2000 events');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.upsert_calendar_events('00000000-0000-4000-a000-0000000007c1', '[]')$q$) = '42501/',
                        'deliveries are the worker''s');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- All-day events block the integration's local days; recurring events their occurrences.
DO $$
BEGIN
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.calendar_integrations SET time_zone = 'Europe/Lisbon';
  PERFORM pg_temp.deliver('[{"external_id": "holiday", "all_day": true, "start_date": "2030-03-06", "end_date": "2030-03-07"}]');
  -- Lisbon's 6 March is 19:00 on the 5th to 19:00 on the 6th in New York
  PERFORM pg_temp.check(pg_temp.slots('2030-03-05') = '{10:00,11:00,12:00,14:00,15:00,16:00,17:00}', 'the 5th keeps its day (closes at 18:00)');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-06') IS NULL, 'the 6th is taken whole');
  PERFORM pg_temp.deliver('[{"external_id": "weekly", "title": "Class", "time_zone": "America/New_York",
                             "start": "2030-03-11 10:00", "end": "2030-03-11 11:00",
                             "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": ["2030-03-18 10:00"]},
                            {"external_id": "weekly", "recurrence_id": "2030-03-25T14:00:00Z", "time_zone": "America/New_York",
                             "start": "2030-03-25 12:00", "end": "2030-03-25 13:00"}]');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-11') = '{11:00,12:00,14:00,15:00,16:00,17:00}', 'the first Monday''s class');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-18') = '{10:00,11:00,12:00,14:00,15:00,16:00,17:00}', 'the excluded Monday is free');
  PERFORM pg_temp.check(pg_temp.slots('2030-03-25') = '{10:00,11:00,14:00,15:00,16:00,17:00}', 'the overridden Monday is busy at its new time');
  PERFORM pg_temp.check(pg_temp.slots('2030-04-01') = '{11:00,12:00,14:00,15:00,16:00,17:00}', 'the fourth Monday');
  PERFORM pg_temp.check(pg_temp.slots('2030-04-08') = '{10:00,11:00,12:00,14:00,15:00,16:00,17:00}', 'COUNT=4: no fifth');
  -- a date-only exclusion is that local date, west of UTC too (it skipped the day before)
  PERFORM pg_temp.deliver('[{"external_id": "daily", "time_zone": "America/New_York", "start": "2030-04-15 16:00", "end": "2030-04-15 17:00",
                             "recurrence_rule": "FREQ=DAILY;COUNT=3", "exdates": ["2030-04-16"]}]');
  PERFORM pg_temp.check((SELECT array_agg(to_char(lower(b.during) AT TIME ZONE 'America/New_York', 'MM-DD HH24:MI') ORDER BY lower(b.during))
                         FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id WHERE e.external_id = 'daily')
                        = '{04-15 16:00,04-17 16:00}', 'the excluded date is the 16th');
  -- endless: expanded up to the horizon; a rule the engine cannot expand: its first occurrence, and why
  PERFORM pg_temp.deliver('[{"external_id": "forever", "start": "2020-01-06T09:00:00Z", "end": "2020-01-06T09:30:00Z",
                             "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO"},
                            {"external_id": "yearly", "start": "2030-05-01T14:00:00Z", "end": "2030-05-01T15:00:00Z",
                             "recurrence_rule": "FREQ=YEARLY"}]');
  PERFORM pg_temp.check((SELECT count(*) BETWEEN 55 AND 60 FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                         WHERE e.external_id = 'forever'), 'an endless weekly rule: a month back to the horizon');
  PERFORM pg_temp.check((SELECT min(lower(b.during)) > now() - interval '36 days' FROM booking.calendar_busy b
                         JOIN booking.calendar_events e ON e.id = b.event_id WHERE e.external_id = 'forever'), 'from a month back');
  PERFORM pg_temp.check((SELECT (count(*), bool_and(e.expansion_note IS NOT NULL)) = (1::bigint, true)
                         FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id WHERE e.external_id = 'yearly'),
                        'a rule the engine cannot expand: its first occurrence, with the reason');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.refresh_calendar_busy() = 4, 'refresh expands every series again');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- The sync state machine: syncing, then success or error; failed credentials notify the
-- organization's owners and admins once.
DO $$
DECLARE
  i booking.calendar_integrations;
BEGIN
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'syncing')$q$) = '42501/',
                        'the worker reports');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'success')$q$) = 'PT409/sync_transition',
                        'a sync ends after it starts');
  PERFORM booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'syncing');
  i := booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'error', 'invalid_grant', true);
  PERFORM pg_temp.check((i.sync_status, i.needs_reauthorization, i.error_message) = ('error', true, 'invalid_grant'), 'failed, needs re-authorisation');
  PERFORM booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'syncing');
  PERFORM booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'error', 'invalid_grant', true);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT array_agg(recipient_id ORDER BY recipient_id) FROM booking.notifications
                         WHERE notification_type = 'calendar_reauthorization') = '{u-admin}', 'the admin is told once');
  PERFORM pg_temp.act_as('service_role');
  PERFORM booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'syncing');
  i := booking.report_sync_result('00000000-0000-4000-a000-0000000007c1', 'success', p_sync_token => 'token-2');
  PERFORM pg_temp.check((i.sync_status, i.needs_reauthorization, i.error_message IS NULL, i.last_sync_at IS NOT NULL, i.sync_token)
                        = ('success', false, true, true, 'token-2'), 'a success clears it');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Outbound: a booking of a linked resource is pushed; one of another resource is not.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-000000000102', '2030-04-08 10:00 America/New_York', '2030-04-08 11:00 America/New_York',
                    p_title => 'Print');
  PERFORM booking.book('00000000-0000-4000-a000-000000000101', '2030-04-08 10:00 America/New_York', '2030-04-08 11:00 America/New_York');
  PERFORM booking.set_booking_status(b.id, 'cancelled');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT array_agg(payload ->> 'action' ORDER BY id) FROM booking.outbox WHERE topic = 'calendar.push') = '{create,delete}',
                        'the printer''s booking is pushed, then its cancellation; the headset''s is not');
  PERFORM pg_temp.check((SELECT payload ->> 'calendar_id' FROM booking.outbox WHERE topic = 'calendar.push' LIMIT 1) = 'printer@example.org',
                        'with what the worker needs');
END $$;

-- What providers write: Google's YYYY-MM-DD recurrence ids, Outlook's WKST, an id that is no
-- date; a new zone moves all-day events; the provider's copy of our own booking holds nothing;
-- a booking moved away is dropped from the calendars of the resource it left.
DO $$
DECLARE
  v_booking booking.bookings;
BEGIN
  PERFORM pg_temp.deliver('[{"external_id": "g-days", "all_day": true, "start_date": "2030-05-06", "end_date": "2030-05-07",
                             "recurrence_rule": "FREQ=DAILY;COUNT=3"},
                            {"external_id": "g-days", "recurrence_id": "2030-05-07", "status": "cancelled",
                             "all_day": true, "start_date": "2030-05-07", "end_date": "2030-05-08"}]');
  PERFORM pg_temp.check((SELECT array_agg(lower(b.during) AT TIME ZONE 'Europe/Lisbon' ORDER BY lower(b.during))
                         FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                         WHERE e.external_id = 'g-days') = '{"2030-05-06 00:00:00","2030-05-08 00:00:00"}',
                        'an override named YYYY-MM-DD replaces its own day (cancelled: the day is free)');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT pg_temp.deliver('[{"external_id": "bad-id", "recurrence_id": "next tuesday",
    "start": "2030-05-06T10:00:00Z", "end": "2030-05-06T11:00:00Z"}]')$q$) = '22023/', 'a recurrence id that names no date');
  PERFORM pg_temp.deliver('[{"external_id": "outlook", "time_zone": "America/New_York", "start": "2030-05-13 16:00", "end": "2030-05-13 17:00",
                             "recurrence_rule": "FREQ=WEEKLY;COUNT=3;BYDAY=MO;WKST=SU"}]');
  PERFORM pg_temp.check((SELECT (count(*), bool_and(e.expansion_note IS NULL)) = (3::bigint, true)
                         FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id WHERE e.external_id = 'outlook'),
                        'Outlook''s WKST=SU does not stop a weekly rule');
  -- the integration moves to New York: the Lisbon holiday of 6 March becomes New York's
  UPDATE booking.calendar_integrations SET time_zone = 'America/New_York';
  PERFORM pg_temp.check((SELECT (lower(b.during), upper(b.during)) = ('2030-03-06 00:00 America/New_York'::timestamptz, '2030-03-07 00:00 America/New_York'::timestamptz)
                         FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id WHERE e.external_id = 'holiday'),
                        'an all-day event is the new zone''s day');
  -- our own booking comes back from the provider: it blocks nothing once its id is written back
  PERFORM pg_temp.act_as('client');
  v_booking := booking.book('00000000-0000-4000-a000-000000000102', '2030-05-20 10:00 America/New_York', '2030-05-20 11:00 America/New_York');
  PERFORM pg_temp.deliver(format('[{"external_id": "gcal-own", "start": "%s", "end": "%s"}]', v_booking.starts_at, v_booking.ends_at)::jsonb);
  PERFORM pg_temp.check((SELECT count(*) FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                         WHERE e.external_id = 'gcal-own') = 1, 'before the write-back it is an event like any');
  PERFORM pg_temp.act_as('service_role');
  UPDATE booking.bookings SET external_calendar_event_id = 'gcal-own' WHERE id = v_booking.id;
  PERFORM pg_temp.check((SELECT count(*) FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                         WHERE e.external_id = 'gcal-own') = 0, 'after it, the booking''s own copy holds nothing');
  PERFORM pg_temp.deliver(format('[{"external_id": "gcal-own", "updated": "2031-01-01T00:00:00Z", "title": "again", "start": "%s", "end": "%s"}]',
                                 v_booking.starts_at, v_booking.ends_at)::jsonb);
  PERFORM pg_temp.check((SELECT count(*) FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                         WHERE e.external_id = 'gcal-own') = 0, 'nor when it comes again');
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.bookings SET resource_id = '00000000-0000-4000-a000-000000000104' WHERE id = v_booking.id;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT payload ->> 'action' FROM booking.outbox WHERE topic = 'calendar.push' ORDER BY id DESC LIMIT 1) = 'delete',
                        'moved to another resource: the printer''s calendar drops it');
END $$;

-- A real-world-shaped Outlook export imported as staff: a weekly meeting in "W. Europe Standard
-- Time" (Berlin) with Outlook's WKST=SU, one date excluded, one occurrence moved by an
-- override, a tentative one-off in "Eastern Standard Time", folded lines and escaped text: the
-- busy time is exactly these instants.
DO $$
DECLARE
  r jsonb;
  v_ics text := concat_ws(E'\r\n',
    'BEGIN:VCALENDAR', 'PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN', 'VERSION:2.0', 'METHOD:PUBLISH',
    'BEGIN:VTIMEZONE', 'TZID:W. Europe Standard Time',
    'BEGIN:STANDARD', 'DTSTART:16011028T030000', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'END:STANDARD',
    'BEGIN:DAYLIGHT', 'DTSTART:16010325T020000', 'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'END:DAYLIGHT',
    'END:VTIMEZONE',
    'BEGIN:VEVENT', 'UID:040000008200E00074C5B7101A82E008000000007A1B2C3D4E5F6001000000000000000010000000',
    'RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU;WKST=SU',
    'EXDATE;TZID="W. Europe Standard Time":20300409T090000',
    'SUMMARY;LANGUAGE=en-us:Supplier call\, weekly',
    'DTSTART;TZID="W. Europe Standard Time":20300319T090000', 'DTEND;TZID="W. Europe Standard Time":20300319T100000',
    'DTSTAMP:20300101T100000Z', 'LAST-MODIFIED:20300101T100000Z', 'TRANSP:OPAQUE', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:040000008200E00074C5B7101A82E008000000007A1B2C3D4E5F6001000000000000000010000000',
    'RECURRENCE-ID;TZID="W. Europe Standard Time":20300402T090000',
    'SUMMARY:Supplier call (moved)', 'DTSTART;TZID="W. Europe Standard Time":20300403T140000',
    'DTEND;TZID="W. Europe Standard Time":20300403T150000', 'DTSTAMP:20300101T100000Z', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:040000008200E00074C5B7101A82E008000000007A1B2C3D4E5F6002000000000000000010000000',
    'SUMMARY:Maybe: a visit from the', ' inspector', 'STATUS:TENTATIVE',
    'DTSTART;TZID="Eastern Standard Time":20300320T110000', 'DTEND;TZID="Eastern Standard Time":20300320T113000',
    'DTSTAMP:20300101T100000Z', 'END:VEVENT',
    'END:VCALENDAR', '');
BEGIN
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id)
  VALUES ('00000000-0000-4000-a000-0000000007c2', '00000000-0000-4000-a000-000000000001', 'ics', 'outlook-export.ics');
  r := booking.import_ics('00000000-0000-4000-a000-0000000007c2', v_ics);
  PERFORM pg_temp.check(r ->> 'inserted' = '3', 'three events: ' || r::text);
  PERFORM pg_temp.check((SELECT array_agg(to_char(lower(b.during) AT TIME ZONE 'UTC', 'MM-DD HH24:MI') || '/' || to_char(upper(b.during) AT TIME ZONE 'UTC', 'HH24:MI')
                                          ORDER BY lower(b.during))
                         FROM booking.calendar_busy b WHERE b.integration_id = '00000000-0000-4000-a000-0000000007c2')
                        -- Berlin is UTC+1 until 31 March 2030, then UTC+2; New York UTC-4 on 20 March
                        = '{03-19 08:00/09:00,03-20 15:00/15:30,03-26 08:00/09:00,04-03 12:00/13:00}',
                        'weekly in Berlin across its DST change, the 9 April excluded, the 2 April moved, the tentative one-off in New York: '
                        || (SELECT array_agg(to_char(lower(b.during) AT TIME ZONE 'UTC', 'MM-DD HH24:MI') ORDER BY lower(b.during))::text
                            FROM booking.calendar_busy b WHERE b.integration_id = '00000000-0000-4000-a000-0000000007c2'));
  PERFORM pg_temp.check((SELECT title FROM booking.calendar_events WHERE recurrence_id = '' AND title LIKE 'Supplier%') = 'Supplier call, weekly'
                        AND (SELECT title FROM booking.calendar_events WHERE title LIKE 'Maybe%') = 'Maybe: a visit from theinspector',
                        'text unescaped and unfolded');
  PERFORM pg_temp.check((booking.import_ics('00000000-0000-4000-a000-0000000007c2', v_ics) ->> 'unchanged') = '3', 'the same file again changes nothing');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.import_ics(%L, %L)', '00000000-0000-4000-a000-0000000007c2', v_ics)) = '42501/',
                        'imports are staff''s');
  PERFORM pg_temp.act_as('superuser');
END $$;
