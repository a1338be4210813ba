-- People: profiles (own row; display cards within shared organizations), professionals (linked
-- by staff to a person resource whose slot settings they own, managing that resource's
-- bookings, refusing new clients when they say so), students (guardians, notes, the admission
-- lifecycle enforced and logged), and bookings for a student.

-- A person resource in the lab (Dr. Ana's calendar), open the lab's hours, approving by hand.
INSERT INTO booking.resources (id, organization_id, kind, title, capacity, auto_approve) VALUES
  ('00000000-0000-4000-a000-0000000001a1', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Ana', 1, false),
  ('00000000-0000-4000-a000-0000000001a2', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Bo', 1, true);

-- Profiles: each person reads and writes their own; others see display cards only.
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  INSERT INTO booking.profiles (display_name, first_name, last_name, email, phone, avatar_url, metadata)
  VALUES ('Cleo', 'Cleo', 'Client', 'cleo@example.org', '+1 555 0100', 'https://img.example.org/cleo.png', '{"locale": "en"}');
  PERFORM pg_temp.check((SELECT user_id FROM booking.profiles) = 'u-client', 'the profile is keyed by the JWT subject');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.profiles (user_id, display_name) VALUES ('u-member', 'Not me')$q$) = '42501/',
                        'nobody writes another person''s profile');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.profiles SET email = 'not an email'$q$) LIKE '23514/%', 'an email needs an @');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.profiles SET avatar_url = 'javascript:alert(1)'$q$) LIKE '23514/%', 'an avatar is an http(s) URL');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.profiles SET metadata = jsonb_build_object('x', repeat('a', 17000))$q$) LIKE '23514/%',
                        'metadata is bounded');
  PERFORM pg_temp.act_as('member');
  INSERT INTO booking.profiles (display_name, email) VALUES ('Mia', 'mia@example.org');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.profiles) = 1, 'a person reads their own profile only');
  UPDATE booking.profiles SET display_name = 'Renamed' WHERE user_id = 'u-client';
  PERFORM pg_temp.act_as('outsider');
  INSERT INTO booking.profiles (display_name, email) VALUES ('Otto', 'otto@example.org');
  PERFORM pg_temp.check((SELECT array_agg(user_id ORDER BY user_id) FROM booking.profile_cards) = '{u-outsider}',
                        'an outsider sees no card of the lab''s people');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT array_agg(user_id || ':' || display_name ORDER BY user_id) FROM booking.profile_cards)
                        = '{u-client:Cleo,u-member:Mia}', 'members of a shared organization see each other''s cards (the update above touched nothing)');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
                         WHERE attrelid = 'booking.profile_cards'::regclass AND attnum > 0) = '{user_id,display_name,avatar_url}',
                        'a card has display fields only');
  PERFORM pg_temp.check(NOT has_table_privilege('anon', 'booking.profiles', 'SELECT')
                        AND NOT has_table_privilege('anon', 'booking.profile_cards', 'SELECT'), 'anonymous callers see no profile');
END $$;

-- Professionals: staff link an active member to a person resource; the professional's session
-- length and buffer are the resource's; the professional edits how they present themselves.
DO $$
DECLARE
  r booking.resources;
BEGIN
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.professionals (organization_id, user_id, resource_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'u-member', '00000000-0000-4000-a000-0000000001a1')$q$) = '42501/',
    'a member does not make themselves a professional');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal_text($q$INSERT INTO booking.professionals (organization_id, user_id, resource_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'u-member', '00000000-0000-4000-a000-000000000101')$q$) LIKE '23514/%kind person%',
    'a professional''s calendar is a person resource');
  PERFORM pg_temp.check(pg_temp.refusal_text($q$INSERT INTO booking.professionals (organization_id, user_id, resource_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'u-outsider', '00000000-0000-4000-a000-0000000001a1')$q$) LIKE '23514/%active member%',
    'a professional is a member of the organization');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.professionals (organization_id, user_id, resource_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'u-member', '00000000-0000-4000-a000-000000000201')$q$) LIKE '23503/%',
    'the resource is the organization''s');
  INSERT INTO booking.professionals (id, organization_id, user_id, resource_id, title, specialization, session_price_cents, currency)
  VALUES ('00000000-0000-4000-a000-0000000001b1', '00000000-0000-4000-a000-000000000001', 'u-member',
          '00000000-0000-4000-a000-0000000001a1', 'Dr.', 'Speech therapy', 5000, 'ARS');
  INSERT INTO booking.professionals (id, organization_id, user_id, resource_id, session_minutes, buffer_minutes)
  VALUES ('00000000-0000-4000-a000-0000000001b2', '00000000-0000-4000-a000-000000000001', 'u-staff',
          '00000000-0000-4000-a000-0000000001a2', 30, 0);
  SELECT * INTO r FROM booking.resources WHERE id = '00000000-0000-4000-a000-0000000001a1';
  PERFORM pg_temp.check((r.slot_interval_minutes, r.buffer_after_minutes) = (75, 15),
                        'the resource''s grid is a session and its buffer, its buffer after the buffer');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.resources SET slot_interval_minutes = 20 WHERE id = '00000000-0000-4000-a000-0000000001a1'$q$)
                        = '23514/', 'the resource''s slot interval is the professional''s, not set on its own');
  UPDATE booking.resources SET title = 'Dr. Ana Lima', buffer_before_minutes = 5 WHERE id = '00000000-0000-4000-a000-0000000001a1';
  UPDATE booking.professionals SET session_minutes = 45, buffer_minutes = 10 WHERE id = '00000000-0000-4000-a000-0000000001b1';
  SELECT * INTO r FROM booking.resources WHERE id = '00000000-0000-4000-a000-0000000001a1';
  PERFORM pg_temp.check((r.slot_interval_minutes, r.buffer_after_minutes, r.title) = (55, 10, 'Dr. Ana Lima'), 'a change of the professional reaches the resource');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.professionals SET session_minutes = 1000, buffer_minutes = 500 WHERE id = '00000000-0000-4000-a000-0000000001b1'$q$)
                        = '23514/', 'a session and its buffer fit in a day');
  PERFORM pg_temp.act_as('member');
  UPDATE booking.professionals SET bio = 'Twenty years of practice', specialization = 'Speech and language'
  WHERE id = '00000000-0000-4000-a000-0000000001b1';
  PERFORM pg_temp.check((SELECT bio FROM booking.professionals WHERE id = '00000000-0000-4000-a000-0000000001b1') = 'Twenty years of practice',
                        'the professional edits their bio');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.professionals SET session_minutes = 15 WHERE id = '00000000-0000-4000-a000-0000000001b1'$q$) = '42501/',
                        'the professional does not set their session length');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.professionals SET session_price_cents = 1 WHERE id = '00000000-0000-4000-a000-0000000001b1'$q$) = '42501/',
                        'nor their price');
  UPDATE booking.professionals SET bio = 'hijacked' WHERE id = '00000000-0000-4000-a000-0000000001b2';
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check((SELECT count(*) FROM (SELECT id, title, specialization FROM booking.professionals) p) = 2,
                        'a public organization''s professionals are on its booking page');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT user_id FROM booking.professionals') = '42501/', 'but not which user they are');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.professionals) = 2, 'signed-in strangers see them too (public organization)');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT bio FROM booking.professionals WHERE id = '00000000-0000-4000-a000-0000000001b2') IS NULL,
                        'a professional edits only their own row');
END $$;

-- A professional sees and manages the bookings of their own resource (and no other).
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-0000000001a1', '2030-03-11 10:00 America/New_York', '2030-03-11 11:00 America/New_York',
                    p_title => 'First session');
  INSERT INTO ids VALUES ('first', b.id);
  PERFORM pg_temp.check(b.status = 'pending', 'Dr. Ana approves by hand');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT array_agg(id) FROM booking.bookings) = ARRAY[b.id], 'the professional sees their resource''s bookings only');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.booking_transitions WHERE booking_id = b.id) = 0, 'no transition yet');
  b := booking.set_booking_status(b.id, 'approved', 'see you then');
  PERFORM pg_temp.check(b.status = 'approved' AND b.approved_by = 'u-member', 'the professional approves it');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.booking_transitions WHERE booking_id = b.id) = 1, 'and reads its history');
  -- one session after another on a 55-minute grid (45 and a 10-minute buffer): after the
  -- 10:00-11:00 booking, its 10 minutes after and the resource's 5 before, 11:50 is the next
  PERFORM pg_temp.check((SELECT min(slot_start) FROM booking.get_available_slots('00000000-0000-4000-a000-0000000001a1',
                           '2030-03-11 10:00 America/New_York', '2030-03-11 13:00 America/New_York', 45))
                        = '2030-03-11 11:50 America/New_York', 'the next session follows the booked hour and its buffer on the grid');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.set_booking_status('00000000-0000-4000-a000-000000000401', 'approved')$q$) = '22023/',
                        'a booking of another resource is unknown to them');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.bookings SET resource_id = '00000000-0000-4000-a000-000000000104' WHERE id = %L$q$, b.id))
                        = '42501/', 'nor do they move a booking off to a resource that is not theirs');
  -- they book a member into their own calendar, like staff (and the rule book still holds)
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1', 'u-client2',
          '2030-03-12 10:00 America/New_York', '2030-03-12 11:00 America/New_York', 'approved');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000104', 'u-client2',
            '2030-03-12 10:00 America/New_York', '2030-03-12 11:00 America/New_York', 'approved')$q$) = '42501/',
    'but not into another resource''s');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1', 'u-outsider',
            '2030-03-13 10:00 America/New_York', '2030-03-13 11:00 America/New_York', 'approved')$q$) = '42501/',
    'and, like staff, for the organization''s members only');
  -- a professional who leaves the organization no longer manages anything
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.members SET is_active = false WHERE user_id = 'u-member';
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.bookings), 'an inactive member''s calendar is no longer theirs');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.members SET is_active = true WHERE user_id = 'u-member';
END $$;

-- Not taking new clients: only clients who had a booking with them before may book them.
DO $$
BEGIN
  PERFORM pg_temp.act_as('member');
  UPDATE booking.professionals SET accepts_new_clients = false WHERE id = '00000000-0000-4000-a000-0000000001b1';
  PERFORM pg_temp.act_as('client');
  PERFORM booking.book('00000000-0000-4000-a000-0000000001a1', '2030-03-18 10:00 America/New_York', '2030-03-18 11:00 America/New_York');
  PERFORM pg_temp.act_as('admin');
  INSERT INTO booking.members (organization_id, user_id, role) VALUES ('00000000-0000-4000-a000-000000000001', 'u-new', 'client');
  PERFORM set_config('request.jwt.claims', '{"sub": "u-new", "role": "authenticated"}', true);
  PERFORM pg_temp.check(pg_temp.refusal_text($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a1', '2030-03-19 10:00 America/New_York',
                                                                   '2030-03-19 11:00 America/New_York')$q$)
                        = 'PT409/new_client/This professional is not taking new clients.', 'a new client is refused, through book()');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1',
            '2030-03-19 10:00 America/New_York', '2030-03-19 11:00 America/New_York')$q$) = 'PT409/new_client', 'and through the table');
  INSERT INTO booking.bookings (id, organization_id, resource_id, starts_at, ends_at, status)
  VALUES ('00000000-0000-4000-a000-0000000001c1', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1',
          '2030-03-19 10:00 America/New_York', '2030-03-19 11:00 America/New_York', 'draft');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.set_booking_status('00000000-0000-4000-a000-0000000001c1', 'pending')$q$) = 'PT409/new_client',
                        'a draft submitted later meets the rule too');
  PERFORM pg_temp.check((SELECT refusal FROM booking.preview_series('00000000-0000-4000-a000-0000000001a1', '2030-03-19 10:00 America/New_York',
                                                                  '2030-03-19 11:00 America/New_York', 'FREQ=DAILY;COUNT=1')) IS NULL,
                        '(availability answers about time, not about who asks)');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book_series('00000000-0000-4000-a000-0000000001a1', '2030-03-25 10:00 America/New_York',
                                                                      '2030-03-25 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=2')$q$) LIKE 'PT409/%new_client%',
                        'a series is refused whole');
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.book('00000000-0000-4000-a000-0000000001a1', '2030-03-20 10:00 America/New_York', '2030-03-20 11:00 America/New_York');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1', 'u-new',
          '2030-03-21 10:00 America/New_York', '2030-03-21 11:00 America/New_York', 'approved');
  -- now u-new has had an (approved) booking with them
  PERFORM set_config('request.jwt.claims', '{"sub": "u-new", "role": "authenticated"}', true);
  PERFORM booking.book('00000000-0000-4000-a000-0000000001a1', '2030-03-22 10:00 America/New_York', '2030-03-22 11:00 America/New_York');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.professionals SET accepts_new_clients = true WHERE id = '00000000-0000-4000-a000-0000000001b1';
END $$;

-- Students: guardians register them as prospects; the admission lifecycle, enforced and logged.
DO $$
DECLARE
  s booking.students;
  v_today date := (now() AT TIME ZONE 'America/New_York')::date;
BEGIN
  PERFORM pg_temp.act_as('client');
  INSERT INTO booking.students (organization_id, first_name, last_name, date_of_birth, medical_notes)
  VALUES ('00000000-0000-4000-a000-000000000001', 'Sam', 'Client', '2018-05-01', 'peanut allergy')
  RETURNING * INTO s;
  INSERT INTO ids VALUES ('sam', s.id);
  PERFORM pg_temp.check((s.primary_contact_id, s.admission_state) = ('u-client', 'prospect'), 'the guardian is the caller; a prospect');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, admission_state)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Al', 'Ready', 'admitted')$q$) = '23514/', 'a student starts as a prospect');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, primary_contact_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Not', 'Mine', 'u-client2')$q$) = '42501/', 'a guardian registers only for themselves');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, secondary_contact_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Two', 'Guardians', 'u-outsider')$q$) = '42501/', 'naming a second guardian is staff''s');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, educational_notes)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Self', 'Assessed', 'gifted')$q$) = '42501/', 'and so are educational notes, from the start');
  PERFORM set_config('booking.reason', 'the caller''s own reason', true);
  PERFORM booking.set_admission_state(s.id, 'withdrawn', 'changed our minds');
  PERFORM pg_temp.check(current_setting('booking.reason') = 'the caller''s own reason', 'a reason given is the change''s only');
  PERFORM set_config('booking.reason', '', true);
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name)
    VALUES ('00000000-0000-4000-a000-000000000002', 'Private', 'Clinic')$q$) = '42501/', 'nor where they may not book');
  s := booking.set_admission_state(s.id, 'applied', 'the form is in');
  PERFORM pg_temp.check(s.admission_state = 'applied', 'the guardian applies');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_admission_state(%L, ''under_review'')', s.id)) = '42501/',
                        'only staff review');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_admission_state(%L, ''graduated'')', s.id)) = '22023/', 'an unknown state');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_admission_state(%L, ''applied'')', s.id)) = 'PT409/admission_transition',
                        'applied again: PT409');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_admission_state(%L, ''applied'', repeat(''r'', 4001))', s.id)) = '22023/',
                        'a reason over 4000 characters');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.students SET admission_date = '2020-01-01' WHERE id = %L$q$, s.id)) = '23514/',
                        'the admission date follows the state');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.students SET educational_notes = 'x' WHERE id = %L$q$, s.id)) = '42501/',
                        'educational notes are staff''s');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.students SET secondary_contact_id = 'u-client2' WHERE id = %L$q$, s.id)) = '42501/',
                        'and so are the guardians');
  UPDATE booking.students SET medical_notes = 'peanut and latex allergy', emergency_contacts = '[{"name": "Gran", "phone": "+1 555 0199"}]'
  WHERE id = s.id;
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.students), 'a member who is not staff sees no student');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.students) AND NOT EXISTS (SELECT 1 FROM booking.student_admission_transitions),
                        'nor does another client, or their log');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_admission_state(%L, ''admitted'')', s.id)) = 'PT409/admission_transition',
                        'applied to admitted skips the review: PT409');
  BEGIN
    PERFORM booking.set_admission_state(s.id, 'admitted');
  EXCEPTION WHEN SQLSTATE 'PT409' THEN
    DECLARE
      v_hint text;
    BEGIN
      GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
      PERFORM pg_temp.check(v_hint = 'From applied a student can go to: under_review, withdrawn', 'the refusal says where the student can go: ' || coalesce(v_hint, 'no hint'));
    END;
  END;
  s := booking.set_admission_state(s.id, 'under_review');
  s := booking.set_admission_state(s.id, 'admitted', 'welcome');
  PERFORM pg_temp.check((s.admission_state, s.admission_date, s.discharge_date) IS NOT DISTINCT FROM ('admitted', v_today, NULL::date),
                        'admitted today (the organization''s date)');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.students SET admission_date = NULL WHERE id = %L$q$, s.id)) = '23514/',
                        'staff do not set the dates either');
  s := booking.set_admission_state(s.id, 'on_leave');
  s := booking.set_admission_state(s.id, 'admitted');
  PERFORM pg_temp.check(s.admission_date = v_today, 'back from leave: the same admission');
  UPDATE booking.students SET secondary_contact_id = 'u-client2', educational_notes = 'reads well' WHERE id = s.id;
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check((SELECT educational_notes FROM booking.students WHERE id = s.id) = 'reads well', 'the second guardian sees the student and notes');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT array_agg(coalesce(from_state, '-') || '>' || to_state || ':' || changed_by || ':' || coalesce(reason, '')
                                          ORDER BY created_at)
                         FROM booking.student_admission_transitions WHERE student_id = s.id)
                        = '{->prospect:u-client:,prospect>withdrawn:u-client:changed our minds,withdrawn>applied:u-client:the form is in,applied>under_review:u-staff:,under_review>admitted:u-staff:welcome,admitted>on_leave:u-staff:,on_leave>admitted:u-staff:}',
                        'every state entered is logged with who and why');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.refusal(format('DELETE FROM booking.student_admission_transitions WHERE student_id = %L', s.id)) = '42501/',
                        'the log is append-only, even for the owner');
  PERFORM pg_temp.check((SELECT array_agg(from_state || '>' || to_state) FROM booking.admission_transitions() WHERE guardian_may)
                        = '{prospect>applied,prospect>withdrawn,applied>withdrawn,under_review>withdrawn,waitlisted>withdrawn,declined>applied,withdrawn>applied,discharged>applied}',
                        'what guardians may do');
END $$;

-- Bookings for a student: a guardian books for their own students only; staff for any of the
-- organization's; the student is the organization's.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-01 10:00 America/New_York', '2030-04-01 10:30 America/New_York',
                    p_student_id => pg_temp.id('sam'), p_metadata => '{"room": "blue"}');
  PERFORM pg_temp.check((b.student_id, b.metadata, b.status) = (pg_temp.id('sam'), '{"room": "blue"}'::jsonb, 'approved'),
                        'booked for Sam, with metadata, approved (Dr. Bo approves by itself)');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-02 10:00 America/New_York',
                                         '2030-04-02 10:30 America/New_York', p_metadata => '[1]')$q$) = '22023/', 'metadata is an object');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-02 10:00 America/New_York',
                                         '2030-04-02 10:30 America/New_York', p_metadata => jsonb_build_object('x', repeat('a', 17000)))$q$) = '22023/',
                        'of at most 16 kB');
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.students (id, organization_id, first_name, last_name, primary_contact_id) VALUES
    ('00000000-0000-4000-a000-0000000001d1', '00000000-0000-4000-a000-000000000001', 'Kim', 'Other', 'u-admin'),
    ('00000000-0000-4000-a000-0000000001d2', '00000000-0000-4000-a000-000000000002', 'Lee', 'Clinic', 'u-outsider');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-02 10:00 America/New_York',
                                         '2030-04-02 10:30 America/New_York', p_student_id => '00000000-0000-4000-a000-0000000001d1')$q$) = '42501/',
                        'not for someone else''s student');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.bookings SET student_id = '00000000-0000-4000-a000-0000000001d1' WHERE id = %L$q$, b.id))
                        = '42501/', 'nor by moving a booking to them');
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-02 10:00 America/New_York', '2030-04-02 10:30 America/New_York',
                       p_student_id => '00000000-0000-4000-a000-0000000001d1');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a2', '2030-04-03 10:00 America/New_York',
                                         '2030-04-03 10:30 America/New_York', p_student_id => '00000000-0000-4000-a000-0000000001d2')$q$) LIKE '23503/%',
                        'staff book for their organization''s students only');
  -- the second guardian books Sam with Dr. Ana, who takes no new clients: Sam is not new
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.professionals SET accepts_new_clients = false WHERE id = '00000000-0000-4000-a000-0000000001b1';
  UPDATE booking.bookings SET student_id = pg_temp.id('sam') WHERE id = pg_temp.id('first');
  DELETE FROM booking.bookings WHERE booked_by = 'u-client2';
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-0000000001a1', '2030-04-08 10:00 America/New_York',
                                         '2030-04-08 11:00 America/New_York')$q$) = 'PT409/new_client', 'the second guardian is new to Dr. Ana');
  b := booking.book('00000000-0000-4000-a000-0000000001a1', '2030-04-08 10:00 America/New_York', '2030-04-08 11:00 America/New_York',
                    p_student_id => pg_temp.id('sam'));
  PERFORM pg_temp.check(b.student_id = pg_temp.id('sam'), 'but Sam is not: booked');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.bookings WHERE id = b.id), 'the other guardian sees the booking for Sam');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.bookings WHERE student_id = '00000000-0000-4000-a000-0000000001d1'), 'but not bookings for other students');
  -- the professional books their client Sam again, but not a student who is not their client
  PERFORM pg_temp.act_as('member');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, student_id, starts_at, ends_at, status)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1', 'u-client', pg_temp.id('sam'),
          '2030-04-15 10:00 America/New_York', '2030-04-15 11:00 America/New_York', 'approved');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, booked_by, student_id, starts_at, ends_at, status)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1', 'u-admin', '00000000-0000-4000-a000-0000000001d1',
            '2030-04-16 10:00 America/New_York', '2030-04-16 11:00 America/New_York', 'approved')$q$) = '42501/',
    'a student who never had a booking with the professional is not theirs to book');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((booking.set_admission_state(pg_temp.id('sam'), 'discharged', 'moved away')).discharge_date
                        = (now() AT TIME ZONE 'America/New_York')::date, 'discharged today');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.refusal(format('DELETE FROM booking.students WHERE id = %L', pg_temp.id('sam'))) LIKE '23503/%',
                        'a student with bookings is not deleted (discharge them)');
END $$;

-- Guardians: none (staff keep the record), one, or two different people; never a second alone.
DO $$
BEGIN
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.students (organization_id, first_name, last_name, primary_contact_id)
  VALUES ('00000000-0000-4000-a000-000000000001', 'No', 'Guardian', NULL);
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, primary_contact_id, secondary_contact_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Only', 'Second', NULL, 'u-client')$q$) = '23514/', 'a second guardian needs a first');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.students (organization_id, first_name, last_name, primary_contact_id, secondary_contact_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'Same', 'Twice', 'u-client', 'u-client')$q$) = '23514/', 'who is another person');
  PERFORM pg_temp.act_as('superuser');
END $$;
