-- Engagement: messaging (who may talk, one thread per pair, unread counts and deletion per
-- participant, notifications and outbox, editing), favourites, reviews (only of a completed
-- booking by its booker, once; moderation; the organization's figures over published reviews),
-- the seed's views, and who performs a booking's service (booking_services.staff_id).
INSERT INTO booking.profiles (user_id, display_name) VALUES ('u-client', 'Cleo'), ('u-staff', 'Stan'), ('u-admin', 'Ada');

-- Messaging: members of one organization talk; strangers do not.
DO $$
DECLARE
  t  booking.message_threads;
  t2 booking.message_threads;
  m  booking.messages;
BEGIN
  PERFORM pg_temp.act_as('client');
  t := booking.start_thread('u-staff', 'About my print', 'Hello, is the printer free on Monday?');
  INSERT INTO ids VALUES ('thread', t.id);
  PERFORM pg_temp.check((t.created_by_id, t.recipient_id, t.organization_id, t.recipient_unread_count, t.creator_unread_count)
                        = ('u-client', 'u-staff', '00000000-0000-4000-a000-000000000001'::uuid, 1, 0),
                        'a thread in the shared organization, one unread for the recipient');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-outsider', p_body => 'hi')$q$) = 'PT409/not_connected',
                        'a stranger cannot be messaged');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-client')$q$) = '22023/', 'nor oneself');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-staff', repeat('s', 501))$q$) = '22023/', 'a subject of at most 500 characters');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-staff', NULL, repeat('b', 4001))$q$) = '22023/', 'a body of at most 4000');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.message_threads (organization_id, created_by_id, recipient_id)
    VALUES ('00000000-0000-4000-a000-000000000001', 'u-client', 'u-member')$q$) = '42501/', 'threads are made by start_thread only');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.messages (thread_id, organization_id, sender_id, body)
    VALUES (%L, '00000000-0000-4000-a000-000000000001', 'u-client', 'forged')$q$, t.id)) = '42501/', 'messages are sent by send_message only');

  PERFORM pg_temp.act_as('staff');
  t2 := booking.start_thread('u-client', 'Re: print');
  PERFORM pg_temp.check(t2.id = t.id AND t2.subject = 'About my print', 'the pair''s thread, whoever starts it again');
  PERFORM pg_temp.check((SELECT (unread_count, other_user_id, other_display_name, last_message)
                         FROM booking.get_threads_page()) = (1, 'u-client'::text, 'Cleo'::text, 'Hello, is the printer free on Monday?'::text),
                        'the recipient''s page: one unread, who from, what');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.notifications WHERE notification_type = 'message' AND read_at IS NULL
                           AND metadata ->> 'thread_id' = t.id::text) = 1, 'the recipient was notified');
  m := booking.send_message(t.id, 'Yes, from 10:00.');
  t2 := booking.mark_thread_read(t.id);
  PERFORM pg_temp.check((t2.recipient_unread_count, t2.creator_unread_count) = (0, 1), 'read by the staff; one unread for the client');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.notifications WHERE notification_type = 'message' AND read_at IS NULL),
                        'and its notification is read too');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.outbox WHERE topic = 'message.sent' AND payload ->> 'thread_id' = t.id::text) = 2,
                        'an outbox event per message');

  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.message_threads) AND NOT EXISTS (SELECT 1 FROM booking.messages),
                        'others see nothing of it');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.send_message(%L, ''me too'')', t.id)) = '22023/', 'nor write in it');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.mark_thread_read(%L)', t.id)) = '22023/', 'nor read it');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.messages SET body = 'x' WHERE id = %L$q$, m.id)) = '', 'nor edit it (no row)');

  PERFORM pg_temp.act_as('staff');
  UPDATE booking.messages SET body = 'Yes, from 10:30.' WHERE id = m.id;
  PERFORM pg_temp.check((SELECT edited_at IS NOT NULL FROM booking.messages WHERE id = m.id), 'an edit is dated');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.messages SET sender_id = 'u-client' WHERE id = %L$q$, m.id)) = '42501/',
                        'only the body is edited');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT * FROM booking.get_threads_page(0)') = '22023/', 'a page of 1 to 100');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT * FROM booking.get_threads_page(20, 100001)') = '22023/', 'an offset of at most 100000');

  -- deletion is the client's own: the thread and its messages so far leave their view only
  PERFORM pg_temp.act_as('client');
  PERFORM booking.delete_thread(t.id);
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.message_threads) AND NOT EXISTS (SELECT 1 FROM booking.get_threads_page()),
                        'deleted for the client');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.messages WHERE thread_id = t.id) = 2, 'the staff keep theirs');
  PERFORM booking.send_message(t.id, 'See you Monday.');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT array_agg(body) FROM booking.messages) = '{See you Monday.}', 'a new message brings the thread back, without the old ones');
  PERFORM pg_temp.check((SELECT unread_count FROM booking.get_threads_page()) = 1, 'one unread since the deletion');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-staff')$q$) = '42501/', 'anonymous callers do not message');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A client who is not a member talks to the staff of an organization they booked with, and
-- about a booking only with those party to it.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-staff', p_body => 'hi')$q$) = 'PT409/not_connected',
                        'before booking with the lab, its staff are strangers');
  b := booking.book('00000000-0000-4000-a000-000000000104', '2030-03-05 10:00 America/New_York', '2030-03-05 11:00 America/New_York');
  PERFORM pg_temp.check((booking.start_thread('u-staff', p_body => 'hi')).organization_id = '00000000-0000-4000-a000-000000000001',
                        'after booking, they are not');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.start_thread('u-client', p_body => 'hi')$q$) = 'PT409/not_connected',
                        'but other clients still are');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.start_thread('u-client', p_booking_id => %L)$q$, b.id)) = 'PT409/not_connected',
                        'even about the outsider''s booking');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.start_thread('u-outsider', p_booking_id => %L)$q$, b.id)) = '22023/',
                        'someone else''s booking is unknown');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check((booking.start_thread('u-outsider', p_booking_id => b.id)).booking_id = b.id, 'staff write to the booker about it');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Favourites: one's own, once, of what one may book.
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  INSERT INTO booking.customer_favorites (organization_id) VALUES ('00000000-0000-4000-a000-000000000001');
  INSERT INTO booking.customer_favorites (organization_id, resource_id, notes)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102', 'the good printer');
  INSERT INTO booking.customer_favorites (organization_id, service_id) VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000302');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.customer_favorites (organization_id) VALUES ('00000000-0000-4000-a000-000000000001')$q$)
                        LIKE '23505/%', 'each favourite once');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.customer_favorites (organization_id, resource_id, service_id)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101', '00000000-0000-4000-a000-000000000301')$q$)
                        = '23514/', 'a favourite is of one thing');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.customer_favorites (organization_id) VALUES ('00000000-0000-4000-a000-000000000002')$q$)
                        = '42501/', 'not of a private organization one does not belong to');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.customer_favorites (user_id, organization_id) VALUES ('u-member', '00000000-0000-4000-a000-000000000001')$q$)
                        = '42501/', 'nor for someone else');
  PERFORM pg_temp.check((SELECT array_agg(coalesce(resource_title, service_name, organization_name) ORDER BY created_at, id)
                         FROM booking.customer_favorites_view) IS NOT NULL
                        AND (SELECT count(*) FROM booking.customer_favorites_view WHERE resource_title = '3D Printer' AND notes = 'the good printer') = 1
                        AND (SELECT count(*) FROM booking.customer_favorites_view WHERE service_name = '3D print job') = 1
                        AND (SELECT count(*) FROM booking.customer_favorites_view WHERE organization_slug = 'oolite') = 3,
                        'the view names each favourite');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.customer_favorites_view), 'favourites are private');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Reviews: of a completed booking, by its booker, once; moderation; the figures.
DO $$
DECLARE
  r booking.reviews;
BEGIN
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.set_booking_status('00000000-0000-4000-a000-000000000402', 'completed');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000402', '00000000-0000-4000-a000-000000000103', 'u-client', 5)$q$)
                        = '42501/', 'only the booker reviews a booking');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000401', '00000000-0000-4000-a000-000000000101', 'u-client', 5)$q$)
                        = 'PT409/booking_not_completed', 'a booking that did not take place is not reviewed');
  PERFORM pg_temp.act_as('client2');
  INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating, content)
  VALUES ('00000000-0000-4000-a000-000000000002', '00000000-0000-4000-a000-000000000402', '00000000-0000-4000-a000-000000000101', 'someone', 4, 'Great lab')
  RETURNING * INTO r;
  PERFORM pg_temp.check((r.organization_id, r.resource_id, r.reviewer_id, r.status)
                        = ('00000000-0000-4000-a000-000000000001'::uuid, '00000000-0000-4000-a000-000000000103'::uuid, 'u-client2', 'published'),
                        'what and who come from the booking');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000402', '00000000-0000-4000-a000-000000000103', 'u-client2', 1)$q$)
                        LIKE '23505/%', 'once');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.reviews SET rating = 6 WHERE id = %L', r.id)) = '23514/', 'a rating of 1 to 5');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.reviews SET reply = 'thanks me' WHERE id = %L$q$, r.id)) = '42501/', 'the reply is the staff''s');
  UPDATE booking.reviews SET rating = 5, content = 'Great lab, great staff' WHERE id = r.id;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check((SELECT (total_reviews, average_rating, five_star_count) FROM booking.organization_reviews_with_counts WHERE id = r.id)
                        = (1::bigint, 5.00::numeric, 1::bigint), 'anyone sees a public organization''s published review and figures');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT reviewer_id FROM booking.reviews') = '42501/', 'but not who wrote it');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.reviews SET rating = 1 WHERE id = %L', r.id)) = '42501/', 'staff do not rewrite a review');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.reviews SET status = 'removed' WHERE id = %L$q$, r.id)) = '42501/', 'nor remove it: they hide it');
  UPDATE booking.reviews SET reply = 'Thank you!', status = 'hidden' WHERE id = r.id RETURNING * INTO r;
  PERFORM pg_temp.check((r.replied_by, r.replied_at IS NOT NULL) = ('u-staff', true), 'the reply is signed and dated');
  PERFORM pg_temp.check((SELECT (total_reviews, average_rating) FROM booking.organization_reviews_with_counts WHERE id = r.id)
                        IS NOT DISTINCT FROM (0::bigint, NULL::numeric), 'a hidden review is not counted (staff still see it)');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.organization_reviews_with_counts), 'nor shown');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.reviews SET status = 'published' WHERE id = %L$q$, r.id)) = '42501/',
                        'the reviewer does not show what staff hid');
  UPDATE booking.reviews SET status = 'removed' WHERE id = r.id;
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.reviews SET status = 'published' WHERE id = %L$q$, r.id)) = '23514/',
                        'removed is final');
  PERFORM pg_temp.check(pg_temp.refusal(format('DELETE FROM booking.reviews WHERE id = %L', r.id)) = '42501/', 'nobody deletes one through the API');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- The seed's views, as the caller.
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  UPDATE booking.profiles SET metadata = '{"preferences": {"notifications": {"sms": true, "email": "yes"}, "booking": {"reminder_minutes": 60}},
                                          "tags": ["maker"], "status": "vip"}';
  PERFORM pg_temp.check((SELECT (email_notifications_enabled, push_notifications_enabled, sms_notifications_enabled,
                                 booking_reminder_minutes, show_reviews)
                         FROM booking.user_preferences_view) = (true, true, true, 60, true),
                        'preferences with the seed''s defaults (an odd value falls back to its default)');
  PERFORM pg_temp.check((SELECT (tags, account_status) FROM booking.profile_metadata_view) = ('["maker"]'::jsonb, 'vip'::text),
                        'profile metadata');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.user_preferences_view) = 1, 'one''s own only');
  PERFORM pg_temp.check((SELECT recipient_display_name FROM booking.notifications_view LIMIT 1) = 'Cleo', 'notifications with the recipient');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.audit_log_view), 'a client reads no audit log');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log_view WHERE actor_id = 'u-staff' AND actor_display_name = 'Stan'),
                        'the audit log with the actor''s name');
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.resources (id, organization_id, kind, title) VALUES
    ('00000000-0000-4000-a000-0000000001a1', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Ana');
  INSERT INTO booking.professionals (organization_id, user_id, resource_id) VALUES
    ('00000000-0000-4000-a000-000000000001', 'u-staff', '00000000-0000-4000-a000-0000000001a1');
  INSERT INTO booking.availability_exceptions (organization_id, resource_id, during, kind, reason) VALUES
    ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-0000000001a1',
     '[2030-03-06 09:00 America/New_York, 2030-03-06 12:00 America/New_York)', 'closed', 'Conference');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT (resource_title, professional_user_id, professional_display_name, blocked_until - blocked_from)
                         FROM booking.blocked_times_view WHERE reason = 'Conference')
                        = ('Dr. Ana'::text, 'u-staff'::text, 'Stan'::text, interval '3 hours'), 'a professional''s blocked time, with who');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.blocked_times_view WHERE resource_id IS NULL) = 1, 'and the organization''s closed days');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.blocked_times_view), 'nothing of the lab''s for an outsider');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Who performs a booking's service: someone who performs the organization's services; they
-- see their lines.
DO $$
BEGIN
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.booking_services SET staff_id = 'u-admin' WHERE booking_id = '00000000-0000-4000-a000-000000000401';
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.booking_services SET staff_id = 'u-client2' WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$)
                        = '23514/', 'a client does not perform services');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.booking_services SET staff_id = 'u-outsider' WHERE booking_id = '00000000-0000-4000-a000-000000000401'$q$)
                        = '23514/', 'nor a stranger, whoever names them');
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.resources (id, organization_id, kind, title) VALUES
    ('00000000-0000-4000-a000-0000000001a2', '00000000-0000-4000-a000-000000000001', 'person', 'Mia');
  INSERT INTO booking.professionals (organization_id, user_id, resource_id) VALUES
    ('00000000-0000-4000-a000-000000000001', 'u-member', '00000000-0000-4000-a000-0000000001a2');
  PERFORM pg_temp.act_as('client');
  UPDATE booking.booking_services SET staff_id = 'u-member' WHERE booking_id = '00000000-0000-4000-a000-000000000401';
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.booking_services) = 1, 'a professional performing a line sees it');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A blank message is refused, whatever its whitespace (spaces only were refused before; a body
-- of line breaks and tabs was sent).
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.send_message(%L, %L)', pg_temp.id('thread'), E' \n\t ')) = '22023/',
                        'a body of whitespace is empty');
  PERFORM pg_temp.act_as('superuser');
END $$;
