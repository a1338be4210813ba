-- Recurring series: preview, all-or-nothing booking with every refusal in DETAIL, skip mode,
-- the local time kept across a DST change, and changing occurrences. The VR Headset (capacity 1,
-- auto-approves) of the Oolite lab (America/New_York, open Mon-Fri 10-13 and 14-18).
DO $$
DECLARE
  vr    constant uuid := '00000000-0000-4000-a000-000000000101';
  lab   constant uuid := '00000000-0000-4000-a000-000000000001';
  e     record;
  v     jsonb;
  v_b   booking.bookings;
  v_sid uuid;
  v_n   integer;
BEGIN
  -- a booking of another client on Monday 17 February 2031 at 10:00
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES (lab, vr, 'u-client2', '2031-02-17 10:00 America/New_York', '2031-02-17 11:00 America/New_York', 'approved');

  -- canonical pattern and fields (internal: the owner's)
  SELECT * INTO e FROM booking_internal.series_pattern('freq=weekly;count=4;byday=mo');
  PERFORM pg_temp.check(e.rrule = 'FREQ=WEEKLY;BYDAY=MO;COUNT=4' AND e.frequency = 'weekly' AND e.week_days = '{1}'
                        AND e.end_after = 4 AND e.interval = 1, format('series_pattern: %s', e));
  PERFORM pg_temp.act_as('client');
  -- preview: four Mondays, the third refused for overlap
  PERFORM pg_temp.check(
    (SELECT array_agg(coalesce(refusal, '-') ORDER BY occurrence_start)
     FROM booking.preview_series(vr, '2031-02-03 10:00 America/New_York', '2031-02-03 11:00 America/New_York',
                                 'FREQ=WEEKLY;COUNT=4')) = '{-,-,overlap,-}',
    'preview names the overlapping occurrence');
  PERFORM pg_temp.check(
    (SELECT max(occurrence_start) FROM booking.preview_series(vr, '2031-02-03 10:00 America/New_York',
                                   '2031-02-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=4'))
    = '2031-02-24 10:00 America/New_York', 'the last occurrence');
  -- core errors are 22023
  PERFORM pg_temp.expect_error('22023', $q$SELECT * FROM booking.preview_series('00000000-0000-4000-a000-000000000101', '2031-02-03 15:00Z', '2031-02-03 16:00Z', 'FREQ=WEEKLY')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT * FROM booking.preview_series('00000000-0000-4000-a000-000000000101', '2031-02-03 15:00Z', '2031-02-03 16:00Z', 'FREQ=DAILY;COUNT=731')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT * FROM booking.preview_series('00000000-0000-4000-a000-000000000101', '2031-02-03 15:00Z', '2031-02-03 16:00Z', 'FREQ=YEARLY;COUNT=2')$q$);

  -- all or nothing: PT409 with every refused occurrence in DETAIL, nothing written
  SELECT * INTO e FROM pg_temp.error_of($q$SELECT booking.book_series('00000000-0000-4000-a000-000000000101',
    '2031-02-03 10:00 America/New_York', '2031-02-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=4', 'Lesson')$q$);
  PERFORM pg_temp.check(e.state = 'PT409' AND e.message = '1 of the series'' 4 occurrences cannot be booked',
                        format('all or nothing: %s', e));
  PERFORM pg_temp.check(jsonb_array_length(e.detail::jsonb) = 1 AND e.detail::jsonb -> 0 ->> 'reason' = 'overlap'
                        AND (e.detail::jsonb -> 0 ->> 'local_date') = '2031-02-17', format('detail: %s', e.detail));
  PERFORM pg_temp.check(NOT EXISTS (SELECT FROM booking.booking_series), 'nothing written');

  -- skip mode: three booked, the third skipped and recorded
  v := booking.book_series(vr, '2031-02-03 10:00 America/New_York', '2031-02-03 11:00 America/New_York',
                           'FREQ=WEEKLY;COUNT=4', 'Lesson', p_skip_conflicts => true);
  v_sid := (v -> 'series' ->> 'id')::uuid;
  PERFORM pg_temp.check(jsonb_array_length(v -> 'bookings') = 3 AND jsonb_array_length(v -> 'skipped') = 1,
                        format('skip mode: %s', v));
  PERFORM pg_temp.check((SELECT count(*) FROM booking.bookings WHERE series_id = v_sid AND status = 'approved') = 3,
                        'three approved occurrences');
  PERFORM pg_temp.check((SELECT exceptions = '{2031-02-17}' AND time_zone = 'America/New_York' AND local_start = '10:00'
                                AND booked_by = 'u-client' FROM booking.booking_series WHERE id = v_sid), 'the series row');

  -- the other client sees neither the series nor may change its occurrences
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(NOT EXISTS (SELECT FROM booking.booking_series WHERE id = v_sid), 'series are private');
  SELECT id INTO v_b.id FROM booking.bookings WHERE false;
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.cancel_series(%L)', v_sid));

  -- cancel one occurrence: its date becomes skipped
  PERFORM pg_temp.act_as('superuser');
  SELECT * INTO v_b FROM booking.bookings WHERE series_id = v_sid ORDER BY starts_at LIMIT 1;
  PERFORM pg_temp.act_as('client');
  v_b := booking.cancel_occurrence(v_b.id, 'ill');
  PERFORM pg_temp.check(v_b.status = 'cancelled', 'occurrence cancelled');
  PERFORM pg_temp.check((SELECT exceptions FROM booking.booking_series WHERE id = v_sid) = '{2031-02-03,2031-02-17}',
                        'cancelled date skipped');
  -- a skipped date can be booked again
  v_b := booking.restore_occurrence(v_sid, '2031-02-03');
  PERFORM pg_temp.check(v_b.status = 'approved' AND v_b.starts_at = '2031-02-03 10:00 America/New_York'
                        AND v_b.series_id = v_sid, format('restored: %s', v_b));
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.restore_occurrence(%L, %L)', v_sid, '2031-02-17')) = 'PT409/overlap',
                        'a restored date that no longer fits is refused');

  -- move an occurrence: staff may (the booker may not move an approved booking)
  PERFORM pg_temp.act_as('staff');
  v_b := booking.move_occurrence(v_b.id, '2031-02-03 14:00 America/New_York', '2031-02-03 15:00 America/New_York');
  PERFORM pg_temp.check(v_b.starts_at = '2031-02-03 14:00 America/New_York' AND v_b.series_id = v_sid, 'moved');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.move_occurrence(%L, %L, %L)', v_b.id,
                                               '2031-02-03 20:00 America/New_York', '2031-02-03 21:00 America/New_York')) = 'PT409/closed',
                        'a move out of opening hours is refused');

  -- this and all following: from 24 February on, Tuesdays at 11:00
  PERFORM pg_temp.act_as('superuser');
  SELECT * INTO v_b FROM booking.bookings WHERE series_id = v_sid AND starts_at = '2031-02-24 10:00 America/New_York';
  PERFORM pg_temp.act_as('client');
  v := booking.update_series_from(v_b.id, 'FREQ=WEEKLY;COUNT=2', '2031-02-25 11:00 America/New_York',
                                  '2031-02-25 12:00 America/New_York');
  PERFORM pg_temp.check(jsonb_array_length(v -> 'bookings') = 2 AND (v -> 'series' ->> 'split_from')::uuid = v_sid,
                        format('split: %s', v));
  PERFORM pg_temp.check((SELECT rrule FROM booking.booking_series WHERE id = v_sid) = 'FREQ=WEEKLY;UNTIL=20310223',
                        'the old series ends before the split');
  PERFORM pg_temp.check((SELECT status FROM booking.bookings WHERE id = v_b.id) = 'cancelled', 'following cancelled');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.bookings WHERE series_id = v_sid AND status = 'approved') = 2,
                        'earlier occurrences unchanged');

  -- cancel the new series
  v_n := booking.cancel_series((v -> 'series' ->> 'id')::uuid, 'moving away');
  PERFORM pg_temp.check(v_n = 2, 'cancel_series cancels what is to come');

  -- an anonymous caller cannot book a series
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.expect_error('42501', $q$SELECT booking.book_series('00000000-0000-4000-a000-000000000101',
    '2031-03-03 10:00 America/New_York', '2031-03-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=2')$q$);
END $$;

-- A weekly series at 02:30 across the US spring-forward (Sunday 9 March 2031): the occurrence
-- in the gap is at 03:00 EDT, the others at 02:30 local; each lasts one hour.
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(
    (SELECT array_agg(occurrence_start ORDER BY occurrence_start)
     FROM booking.preview_series('00000000-0000-4000-a000-000000000101', '2031-03-02 02:30 America/New_York',
                                 '2031-03-02 03:30 America/New_York', 'FREQ=WEEKLY;COUNT=3'))
    = ARRAY['2031-03-02 07:30Z', '2031-03-09 07:00Z', '2031-03-16 06:30Z']::timestamptz[],
    'spring-forward keeps the occurrence at 03:00 EDT');
  PERFORM pg_temp.check(
    (SELECT bool_and(occurrence_end - occurrence_start = interval '1 hour' AND refusal = 'closed')
     FROM booking.preview_series('00000000-0000-4000-a000-000000000101', '2031-03-02 02:30 America/New_York',
                                 '2031-03-02 03:30 America/New_York', 'FREQ=WEEKLY;COUNT=3')),
    'one hour each, closed at night');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A booking names only a series of its own person and resource: nobody attaches a booking to
-- someone else's series, whether by INSERT or UPDATE.
DO $$
DECLARE
  v_result jsonb;
  v_series uuid;
BEGIN
  PERFORM pg_temp.act_as('client');
  v_result := booking.book_series('00000000-0000-4000-a000-000000000103', '2031-02-03 10:00 America/New_York',
                                  '2031-02-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=2');
  v_series := (v_result -> 'series' ->> 'id')::uuid;
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal(format(
    $q$INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, series_id)
       VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', 'u-client2',
               '2031-02-05 10:00 America/New_York', '2031-02-05 11:00 America/New_York', %L)$q$, v_series)) LIKE '23514/%',
    'attaching a booking to someone else''s series: 23514');
  PERFORM pg_temp.check(pg_temp.refusal(format(
    $q$UPDATE booking.bookings SET series_id = %L WHERE booked_by = 'u-client2'$q$, v_series)) LIKE '23514/%',
    'moving one into it by UPDATE: 23514');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A moved occurrence keeps its date in the series: cancelling it skips the series' date, and
-- restoring brings that date back at the series' time.
DO $$
DECLARE
  v_result jsonb;
  v_series uuid;
  v_first  uuid;
  v_row    booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  v_result := booking.book_series('00000000-0000-4000-a000-000000000103', '2032-01-05 10:00 America/New_York',
                                  '2032-01-05 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=3');
  v_series := (v_result -> 'series' ->> 'id')::uuid;
  v_first := (v_result -> 'bookings' -> 0 ->> 'id')::uuid;
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.move_occurrence(v_first, '2032-01-06 10:00 America/New_York', '2032-01-06 11:00 America/New_York');
  PERFORM pg_temp.act_as('client');
  PERFORM booking.cancel_occurrence(v_first);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT exceptions FROM booking.booking_series WHERE id = v_series) = '{2032-01-05}',
                        'cancelling the moved occurrence skips the series'' own date');
  PERFORM pg_temp.act_as('client');
  v_row := booking.restore_occurrence(v_series, '2032-01-05');
  PERFORM pg_temp.check(v_row.starts_at = '2032-01-05 10:00 America/New_York' AND v_row.series_date = '2032-01-05',
                        'and restoring brings it back at the series'' time');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Judged at once and written with one INSERT (book_series_at_once), a series writes what booking
-- its occurrences one by one with book() writes: the same bookings (status, approval, derived
-- columns), one audit row and one booking.created event each, each one's calendar push, event
-- and notification; and nothing stays recorded as judged once the INSERT is done. On the VR
-- Headset (approves by itself; it generates events and is linked to a calendar here) and the
-- 3D Printer (requests stay pending and notify staff).
CREATE FUNCTION pg_temp.series_writes(p_resource uuid, p_how text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_ids    uuid[];
  v_result text;
BEGIN
  BEGIN
    PERFORM pg_temp.act_as('client');
    IF p_how = 'at once' THEN
      SELECT array_agg((b ->> 'id')::uuid) INTO v_ids
      FROM jsonb_array_elements(booking.book_series(p_resource, '2031-03-03 10:00 America/New_York',
                                                    '2031-03-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=3') -> 'bookings') b;
    ELSE
      SELECT array_agg((booking.book(p_resource, o.occurrence_start, o.occurrence_end)).id) INTO v_ids
      FROM booking.preview_series(p_resource, '2031-03-03 10:00 America/New_York', '2031-03-03 11:00 America/New_York',
                                  'FREQ=WEEKLY;COUNT=3') o;
    END IF;
    PERFORM pg_temp.act_as('superuser');
    PERFORM pg_temp.check(cardinality(v_ids) = 3, format('%s: three occurrences booked', p_how));
    PERFORM pg_temp.check(NOT booking_internal.has_judged_bookings(), format('%s: nothing left judged', p_how));
    SELECT string_agg(concat_ws(' / ',
             b.starts_at, b.ends_at, b.status, b.booked_by, b.approved_by, b.approved_at IS NOT NULL, b.auto_approved,
             b.approval_workflow_id, b.source, b.seats, b.event_generation_status, b.event_count,
             (SELECT string_agg(a.action || ' ' || (a.new_values - '{id,series_id,series_date,approved_at,created_at,updated_at}'::text[])::text, '; ' ORDER BY a.action)
              FROM booking.audit_log a WHERE a.entity_type = 'bookings' AND a.entity_id = b.id),
             (SELECT string_agg(o.topic || ' ' || (o.payload - '{booking_id,event_id}'::text[])::text, '; ' ORDER BY o.topic)
              FROM booking.outbox o WHERE o.payload ->> 'booking_id' = b.id::text),
             (SELECT string_agg(n.recipient_id || ' ' || n.notification_type, '; ' ORDER BY n.recipient_id)
              FROM booking.notifications n WHERE n.metadata ->> 'booking_id' = b.id::text),
             (SELECT string_agg(e.status || ' ' || e.starts_at, '; ') FROM booking.event_instances e WHERE e.booking_id = b.id)),
           E'\n' ORDER BY b.starts_at)
    INTO v_result
    FROM booking.bookings b WHERE b.id = ANY (v_ids);
    RAISE EXCEPTION 'undo' USING ERRCODE = 'U0001', DETAIL = v_result;  -- (a failed check is not caught)
  EXCEPTION WHEN SQLSTATE 'U0001' THEN
    GET STACKED DIAGNOSTICS v_result = PG_EXCEPTION_DETAIL;
  END;
  RETURN v_result;
END $$;

DO $$
DECLARE
  vr  constant uuid := '00000000-0000-4000-a000-000000000101';
  printer constant uuid := '00000000-0000-4000-a000-000000000102';
  v_at_once text;
  v_one_by_one text;
BEGIN
  UPDATE booking.resources SET generates_events = true WHERE id = vr;
  INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id)
  VALUES ('00000000-0000-4000-a000-00000000c001', '00000000-0000-4000-a000-000000000001', 'google', 'vr@example.org');
  INSERT INTO booking.calendar_integration_resources (integration_id, organization_id, resource_id)
  VALUES ('00000000-0000-4000-a000-00000000c001', '00000000-0000-4000-a000-000000000001', vr);
  FOREACH v_at_once IN ARRAY ARRAY[vr::text, printer::text] LOOP
    v_one_by_one := pg_temp.series_writes(v_at_once::uuid, 'one by one');
    PERFORM pg_temp.check(v_one_by_one LIKE '%insert {%' AND v_one_by_one LIKE '%booking.created%',
                          format('the comparison sees the audit rows and events: %s', v_one_by_one));
    PERFORM pg_temp.check(pg_temp.series_writes(v_at_once::uuid, 'at once') = v_one_by_one,
                          format('at once as one by one on %s: %s <> %s', v_at_once,
                                 pg_temp.series_writes(v_at_once::uuid, 'at once'), v_one_by_one));
  END LOOP;
  PERFORM pg_temp.check(pg_temp.series_writes(vr, 'one by one') LIKE '%calendar.push%'
                        AND pg_temp.series_writes(vr, 'one by one') LIKE '%scheduled%'
                        AND pg_temp.series_writes(printer, 'one by one') LIKE '%pending%u-staff%',
                        'the comparison sees calendar pushes, events and pending requests');
END $$;
