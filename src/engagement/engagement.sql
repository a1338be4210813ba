-- booking_ext, module engagement: what the salon app of seed 004 needs around its bookings.
-- Messaging: one thread per pair of people, ever (a unique key on the pair, so two first
-- messages at once cannot make two), between people who share an organization or a client and
-- the staff of an organization they booked with; unread counts and deletion per participant;
-- each message notifies the recipient (notification and outbox) in the same transaction.
-- Favourites of organizations, resources and services. Reviews: only the booker of a completed
-- booking reviews it, once; the organization's figures count published reviews only (the
-- rating_summary aggregate). And the seed's views, adapted to booking_ext's names, all
-- security_invoker so that row-level security decides what each caller sees.

-- ---------------------------------------------------------------------------------------------
-- Messaging
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.message_threads (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- the organization through which the two may talk (a shared one, or the one booked with)
  organization_id        uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  created_by_id          text NOT NULL CONSTRAINT message_threads_created_by_id_size CHECK (length(created_by_id) BETWEEN 1 AND 200),
  recipient_id           text NOT NULL CONSTRAINT message_threads_recipient_id_size CHECK (length(recipient_id) BETWEEN 1 AND 200),
  -- the pair, in order: the key that makes one thread per pair
  participant_low        text GENERATED ALWAYS AS (least(created_by_id, recipient_id)) STORED,
  participant_high       text GENERATED ALWAYS AS (greatest(created_by_id, recipient_id)) STORED,
  subject                text CONSTRAINT message_threads_subject_size CHECK (length(subject) <= 500),
  description            text CONSTRAINT message_threads_description_size CHECK (length(description) <= 4000),
  -- the appointment it is about (seed: appointment_id)
  booking_id             uuid,
  last_message_at        timestamptz,
  -- per participant: unread messages, last read, deleted (hidden until a newer message)
  creator_unread_count   integer NOT NULL DEFAULT 0 CHECK (creator_unread_count >= 0),
  recipient_unread_count integer NOT NULL DEFAULT 0 CHECK (recipient_unread_count >= 0),
  creator_last_read_at   timestamptz,
  recipient_last_read_at timestamptz,
  creator_deleted_at     timestamptz,
  recipient_deleted_at   timestamptz,
  metadata               jsonb NOT NULL DEFAULT '{}'::jsonb
                         CONSTRAINT message_threads_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
                         CONSTRAINT message_threads_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT message_threads_two_people CHECK (created_by_id <> recipient_id),
  CONSTRAINT message_threads_one_per_pair UNIQUE (participant_low, participant_high),
  CONSTRAINT message_threads_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE SET NULL (booking_id)
);
CREATE INDEX message_threads_created_by_idx ON booking.message_threads (created_by_id, last_message_at DESC);
CREATE INDEX message_threads_recipient_idx ON booking.message_threads (recipient_id, last_message_at DESC);
CREATE INDEX message_threads_organization_id_idx ON booking.message_threads (organization_id);
CREATE INDEX message_threads_booking_idx ON booking.message_threads (booking_id, organization_id) WHERE booking_id IS NOT NULL;
-- Not audited: private conversations are not the organization's record.
SELECT booking_internal.register_table('message_threads', 'engagement', false);

CREATE TABLE booking.messages (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  thread_id       uuid NOT NULL,
  organization_id uuid NOT NULL,
  sender_id       text NOT NULL CONSTRAINT messages_sender_id_size CHECK (length(sender_id) BETWEEN 1 AND 200),
  body            text NOT NULL CONSTRAINT messages_body_not_blank CHECK (btrim(body, E' \t\r\n\f\x0B') <> '')
                  CONSTRAINT messages_body_size CHECK (length(body) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  edited_at       timestamptz,
  CONSTRAINT messages_thread_same_organization FOREIGN KEY (thread_id, organization_id)
    REFERENCES booking.message_threads (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX messages_thread_idx ON booking.messages (thread_id, organization_id, created_at);
CREATE INDEX messages_organization_id_idx ON booking.messages (organization_id);
SELECT booking_internal.register_table('messages', 'engagement', false);

-- Through which organization may these two people talk, if at all? About a booking: both are
-- party to it (its booker, the organization's owners, admins and staff, the resource's
-- professional). Otherwise: an organization both are active members of, else one where one is
-- staff and the other has booked. NULL: strangers. The first such organization by id, so the
-- answer does not depend on the order rows come in.
CREATE FUNCTION booking_internal.thread_organization(p_me text, p_other text, p_booking_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings;
BEGIN
  IF p_booking_id IS NOT NULL THEN
    SELECT * INTO v_booking FROM booking.bookings WHERE id = p_booking_id;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM unnest(ARRAY[p_me, p_other]) AS u(user_id)
        WHERE u.user_id = v_booking.booked_by
           OR EXISTS (SELECT 1 FROM booking.members m
                      WHERE m.organization_id = v_booking.organization_id AND m.user_id = u.user_id AND m.is_active
                        AND m.role IN ('owner', 'admin', 'staff'))
           OR EXISTS (SELECT 1 FROM booking.professionals p
                      WHERE p.resource_id = v_booking.resource_id AND p.user_id = u.user_id AND p.active)) = 2 THEN
      RETURN v_booking.organization_id;
    END IF;
    RETURN NULL;
  END IF;
  RETURN coalesce(
    (SELECT min(a.organization_id::text)::uuid FROM booking.members a
     JOIN booking.members b ON b.organization_id = a.organization_id AND b.user_id = p_other AND b.is_active
     WHERE a.user_id = p_me AND a.is_active),
    (SELECT min(s.organization_id::text)::uuid FROM booking.members s
     WHERE s.user_id IN (p_me, p_other) AND s.is_active AND s.role IN ('owner', 'admin', 'staff')
       AND EXISTS (SELECT 1 FROM booking.bookings bk
                   WHERE bk.organization_id = s.organization_id
                     AND bk.booked_by = CASE s.user_id WHEN p_me THEN p_other ELSE p_me END)));
END $$;

-- The one writer of messages: a message in a thread the caller is in (locked by the caller),
-- the other participant's unread count, the recipient's notification and the outbox event.
CREATE FUNCTION booking_internal.post_message(p_thread booking.message_threads, p_body text) RETURNS booking.messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me        text := booking.current_user_id();
  v_recipient text := CASE WHEN p_thread.created_by_id = v_me THEN p_thread.recipient_id ELSE p_thread.created_by_id END;
  v_message   booking.messages;
  v_name      text;
BEGIN
  INSERT INTO booking.messages (thread_id, organization_id, sender_id, body)
  VALUES (p_thread.id, p_thread.organization_id, v_me, p_body)
  RETURNING * INTO v_message;
  UPDATE booking.message_threads
  SET last_message_at = v_message.created_at,
      creator_unread_count = creator_unread_count + (created_by_id = v_recipient)::integer,
      recipient_unread_count = recipient_unread_count + (recipient_id = v_recipient)::integer
  WHERE id = p_thread.id;
  SELECT nullif(btrim(p.display_name), '') INTO v_name FROM booking.profiles p WHERE p.user_id = v_me;
  INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
  VALUES (p_thread.organization_id, v_recipient, 'message',
          booking_internal.render_notification(p_thread.organization_id, 'message',
            jsonb_build_object('sender_name', coalesce(v_name, 'someone'),
                               'preview', CASE WHEN length(p_body) > 80 THEN left(p_body, 79) || '…' ELSE p_body END,
                               'thread_id', p_thread.id, 'message_id', v_message.id, 'sender_id', v_me)),
          jsonb_build_object('thread_id', p_thread.id, 'message_id', v_message.id, 'sender_id', v_me));
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_thread.organization_id, 'message.sent',
          jsonb_build_object('thread_id', p_thread.id, 'message_id', v_message.id,
                             'sender_id', v_me, 'recipient_id', v_recipient));
  RETURN v_message;
END $$;

-- The pair's thread, created if it does not exist (one per pair: a concurrent creator's
-- thread is found, not duplicated), with a first message when p_body is given. Who may: people
-- who share an organization, or a client and the staff of an organization they booked with
-- (p_booking_id: the two must be party to that booking). Errors: 42501 anonymous; 22023 for
-- an empty recipient, oneself, a subject over 500 or a body over 4000 characters, or a booking
-- the caller cannot see; PT409 (DETAIL not_connected) for a stranger.
CREATE FUNCTION booking.start_thread(p_recipient_id text, p_subject text DEFAULT NULL, p_body text DEFAULT NULL,
                                     p_booking_id uuid DEFAULT NULL)
RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_org    uuid;
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'start_thread() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_recipient_id', p_recipient_id, 200);
  IF p_recipient_id = v_me THEN
    RAISE EXCEPTION 'a thread is between two people; p_recipient_id is the caller' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_subject) > 500 THEN
    RAISE EXCEPTION 'p_subject is longer than 500 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_body IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_body', p_body, 4000);
  END IF;
  IF p_booking_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM booking.bookings b
                     WHERE b.id = p_booking_id
                       AND (b.booked_by = v_me OR booking_internal.manages_bookings(b.organization_id, b.resource_id))) THEN
    RAISE EXCEPTION 'unknown booking %', p_booking_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_org := booking_internal.thread_organization(v_me, p_recipient_id, p_booking_id);
  IF v_org IS NULL THEN
    RAISE EXCEPTION 'You can message people of your organizations, and the staff of organizations you booked with.'
      USING ERRCODE = 'PT409', DETAIL = 'not_connected';
  END IF;
  INSERT INTO booking.message_threads (organization_id, created_by_id, recipient_id, subject, booking_id)
  VALUES (v_org, v_me, p_recipient_id, p_subject, p_booking_id)
  ON CONFLICT ON CONSTRAINT message_threads_one_per_pair DO NOTHING;
  SELECT * INTO v_thread FROM booking.message_threads
  WHERE participant_low = least(v_me, p_recipient_id) AND participant_high = greatest(v_me, p_recipient_id)
  FOR UPDATE;
  IF p_body IS NOT NULL THEN
    PERFORM booking_internal.post_message(v_thread, p_body);
    SELECT * INTO v_thread FROM booking.message_threads WHERE id = v_thread.id;
  END IF;
  RETURN v_thread;
END $$;

-- A thread the caller takes part in, locked (NULL when they do not: nothing is read or locked
-- of anyone else's thread).
CREATE FUNCTION booking_internal.lock_my_thread(p_thread_id uuid) RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_thread booking.message_threads;
BEGIN
  SELECT * INTO v_thread FROM booking.message_threads
  WHERE id = p_thread_id AND booking.current_user_id() IN (created_by_id, recipient_id)
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown thread %', p_thread_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_thread;
END $$;

-- Send a message in a thread the caller takes part in. 22023 for an unknown thread (or one
-- the caller is not in) and an empty body or one over 4000 characters; 42501 anonymous.
CREATE FUNCTION booking.send_message(p_thread_id uuid, p_body text) RETURNS booking.messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking.current_user_id() IS NULL THEN
    RAISE EXCEPTION 'send_message() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_body', p_body, 4000);
  RETURN booking_internal.post_message(booking_internal.lock_my_thread(p_thread_id), p_body);
END $$;

-- The caller has read the thread: their unread count drops to zero. Returns the thread.
CREATE FUNCTION booking.mark_thread_read(p_thread_id uuid) RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'mark_thread_read() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_thread := booking_internal.lock_my_thread(p_thread_id);
  UPDATE booking.message_threads
  SET creator_unread_count = CASE WHEN created_by_id = v_me THEN 0 ELSE creator_unread_count END,
      creator_last_read_at = CASE WHEN created_by_id = v_me THEN clock_timestamp() ELSE creator_last_read_at END,
      recipient_unread_count = CASE WHEN recipient_id = v_me THEN 0 ELSE recipient_unread_count END,
      recipient_last_read_at = CASE WHEN recipient_id = v_me THEN clock_timestamp() ELSE recipient_last_read_at END
  WHERE id = v_thread.id
  RETURNING * INTO v_thread;
  UPDATE booking.notifications SET read_at = now()
  WHERE recipient_id = v_me AND notification_type = 'message' AND read_at IS NULL
    AND metadata ->> 'thread_id' = v_thread.id::text;
  RETURN v_thread;
END $$;

-- The caller deletes the thread for themselves: it and its messages so far disappear from
-- their view (the other participant keeps theirs); a newer message brings the thread back.
CREATE FUNCTION booking.delete_thread(p_thread_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'delete_thread() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_thread := booking_internal.lock_my_thread(p_thread_id);
  UPDATE booking.message_threads
  SET creator_deleted_at = CASE WHEN created_by_id = v_me THEN clock_timestamp() ELSE creator_deleted_at END,
      creator_unread_count = CASE WHEN created_by_id = v_me THEN 0 ELSE creator_unread_count END,
      recipient_deleted_at = CASE WHEN recipient_id = v_me THEN clock_timestamp() ELSE recipient_deleted_at END,
      recipient_unread_count = CASE WHEN recipient_id = v_me THEN 0 ELSE recipient_unread_count END
  WHERE id = v_thread.id;
END $$;

-- A page of the caller's threads, the latest conversation first: the other participant (and
-- their display name where the caller may see their card), the caller's unread count, the last
-- message. p_limit 1 to 100, p_offset 0 to 100000 (22023 otherwise).
CREATE FUNCTION booking.get_threads_page(p_limit integer DEFAULT 20, p_offset integer DEFAULT 0)
RETURNS TABLE (thread_id uuid, organization_id uuid, other_user_id text, other_display_name text, subject text,
               booking_id uuid, last_message_at timestamptz, last_message text, last_sender_id text,
               unread_count integer, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me text := booking.current_user_id();
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'get_threads_page() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 100 THEN
    RAISE EXCEPTION 'p_limit must be between 1 and 100, not %', coalesce(p_limit::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_offset IS NULL OR p_offset < 0 OR p_offset > 100000 THEN
    RAISE EXCEPTION 'p_offset must be between 0 and 100000, not %', coalesce(p_offset::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Row-level security shows the caller their threads (and hides those they deleted).
  RETURN QUERY
    SELECT t.id, t.organization_id, o.other, c.display_name, t.subject, t.booking_id, t.last_message_at,
           m.body, m.sender_id,
           CASE WHEN t.created_by_id = v_me THEN t.creator_unread_count ELSE t.recipient_unread_count END,
           t.created_at
    FROM booking.message_threads t
    CROSS JOIN LATERAL (SELECT CASE WHEN t.created_by_id = v_me THEN t.recipient_id ELSE t.created_by_id END AS other) o
    LEFT JOIN booking.profile_cards c ON c.user_id = o.other
    LEFT JOIN LATERAL (SELECT mm.body, mm.sender_id FROM booking.messages mm
                       WHERE mm.thread_id = t.id ORDER BY mm.created_at DESC, mm.id DESC LIMIT 1) m ON true
    ORDER BY t.last_message_at DESC NULLS LAST, t.id
    LIMIT p_limit OFFSET p_offset;
END $$;

-- A sender edits the body of their message (edited_at follows); nothing else of a message
-- changes.
CREATE FUNCTION booking_internal.messages_edit() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF (NEW.id, NEW.thread_id, NEW.organization_id, NEW.sender_id, NEW.created_at)
     IS DISTINCT FROM (OLD.id, OLD.thread_id, OLD.organization_id, OLD.sender_id, OLD.created_at) THEN
    RAISE EXCEPTION 'only a message''s body can be edited' USING ERRCODE = 'insufficient_privilege';
  END IF;
  NEW.edited_at := CASE WHEN NEW.body IS DISTINCT FROM OLD.body THEN clock_timestamp() ELSE OLD.edited_at END;
  RETURN NEW;
END $$;
CREATE TRIGGER messages_1_edit BEFORE UPDATE ON booking.messages
  FOR EACH ROW EXECUTE FUNCTION booking_internal.messages_edit();

-- Participants see their threads (not one they deleted, until a newer message) and the
-- messages in them (not those from before they deleted it); a sender edits their messages.
-- Threads and messages are written by the functions above only.
CREATE POLICY message_threads_select ON booking.message_threads FOR SELECT
  USING ((SELECT booking.current_user_id()) IN (created_by_id, recipient_id)
         AND CASE WHEN created_by_id = (SELECT booking.current_user_id())
                  THEN creator_deleted_at IS NULL OR last_message_at > creator_deleted_at
                  ELSE recipient_deleted_at IS NULL OR last_message_at > recipient_deleted_at END);
CREATE POLICY messages_select ON booking.messages FOR SELECT
  USING (EXISTS (SELECT 1 FROM booking.message_threads t
                 WHERE t.id = messages.thread_id
                   AND messages.created_at > coalesce(CASE WHEN t.created_by_id = (SELECT booking.current_user_id())
                                                            THEN t.creator_deleted_at ELSE t.recipient_deleted_at END,
                                                       '-infinity')));
CREATE POLICY messages_update ON booking.messages FOR UPDATE
  USING (sender_id = (SELECT booking.current_user_id()))
  WITH CHECK (sender_id = (SELECT booking.current_user_id()));

-- ---------------------------------------------------------------------------------------------
-- Favourites
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.customer_favorites (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         text NOT NULL DEFAULT booking.current_user_id()
                  CONSTRAINT customer_favorites_user_id_size CHECK (length(user_id) BETWEEN 1 AND 200),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  -- at most one of them: the organization itself when both are NULL
  resource_id     uuid,
  service_id      uuid,
  notes           text CONSTRAINT customer_favorites_notes_size CHECK (length(notes) <= 1000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customer_favorites_one_target CHECK (num_nonnulls(resource_id, service_id) <= 1),
  CONSTRAINT customer_favorites_once UNIQUE NULLS NOT DISTINCT (user_id, organization_id, resource_id, service_id),
  CONSTRAINT customer_favorites_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT customer_favorites_service_same_organization FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX customer_favorites_organization_id_idx ON booking.customer_favorites (organization_id);
CREATE INDEX customer_favorites_resource_idx ON booking.customer_favorites (resource_id, organization_id) WHERE resource_id IS NOT NULL;
CREATE INDEX customer_favorites_service_idx ON booking.customer_favorites (service_id, organization_id) WHERE service_id IS NOT NULL;
-- Not audited: a person's own list.
SELECT booking_internal.register_table('customer_favorites', 'engagement', false);

-- A person keeps their own favourites, of organizations they may book in (a public one, or
-- one they belong to).
CREATE POLICY customer_favorites_select ON booking.customer_favorites FOR SELECT
  USING (user_id = (SELECT booking.current_user_id()));
CREATE POLICY customer_favorites_insert ON booking.customer_favorites FOR INSERT
  WITH CHECK (user_id = (SELECT booking.current_user_id()) AND booking_internal.may_book_in(organization_id));
CREATE POLICY customer_favorites_update ON booking.customer_favorites FOR UPDATE
  USING (user_id = (SELECT booking.current_user_id()))
  WITH CHECK (user_id = (SELECT booking.current_user_id()) AND booking_internal.may_book_in(organization_id));
CREATE POLICY customer_favorites_delete ON booking.customer_favorites FOR DELETE
  USING (user_id = (SELECT booking.current_user_id()));

-- The seed's customer_favorites_view: each favourite with what it names.
CREATE VIEW booking.customer_favorites_view WITH (security_invoker = true) AS
SELECT f.id, f.user_id, f.organization_id, o.name AS organization_name, o.slug AS organization_slug,
       f.resource_id, r.title AS resource_title, r.kind AS resource_kind,
       f.service_id, s.name AS service_name, s.price_cents AS service_price_cents, s.currency AS service_currency,
       f.notes, f.created_at, f.updated_at
FROM booking.customer_favorites f
LEFT JOIN booking.organizations o ON o.id = f.organization_id
LEFT JOIN booking.resources r ON r.id = f.resource_id
LEFT JOIN booking.services s ON s.id = f.service_id;

-- ---------------------------------------------------------------------------------------------
-- Reviews
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.reviews (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  booking_id      uuid NOT NULL,
  -- derived from the booking: what was booked, and by whom (the reviewer)
  resource_id     uuid NOT NULL,
  reviewer_id     text NOT NULL,
  rating          integer NOT NULL CONSTRAINT reviews_rating_range CHECK (rating BETWEEN 1 AND 5),
  content         text CONSTRAINT reviews_content_size CHECK (length(content) <= 4000),
  -- published: shown and counted; hidden: by the organization's staff; removed: by its reviewer
  status          text NOT NULL DEFAULT 'published' CONSTRAINT reviews_status_check CHECK (status IN ('published', 'hidden', 'removed')),
  reply           text CONSTRAINT reviews_reply_size CHECK (length(reply) <= 4000),
  replied_by      text,
  replied_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- (a booking is in one organization: this is one review per booking)
  CONSTRAINT reviews_once_per_booking UNIQUE (booking_id, organization_id),
  CONSTRAINT reviews_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX reviews_organization_idx ON booking.reviews (organization_id, status, created_at DESC);
CREATE INDEX reviews_reviewer_idx ON booking.reviews (reviewer_id);
SELECT booking_internal.register_table('reviews', 'engagement', true, 'review');

-- Who may write what of a review. A review is of a completed booking, by its booker, once
-- (PT409 booking_not_completed; 42501 for someone else's booking), published when written;
-- what it is about and who wrote it come from the booking. Its reviewer edits rating and
-- content and may remove it; the organization's staff hide and show it and reply (replied_by
-- and replied_at follow). Removed is final. Runs as the owner: it reads the booking, after
-- establishing that the caller booked it.
CREATE FUNCTION booking_internal.reviews_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me      text := booking.current_user_id();
  v_booking booking.bookings;
  v_staff   boolean;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  v_staff := booking_internal.has_staff_rights(NEW.organization_id);
  IF TG_OP = 'INSERT' THEN
    SELECT * INTO v_booking FROM booking.bookings
    WHERE id = NEW.booking_id AND (booked_by = v_me OR booking_internal.is_privileged());
    IF NOT FOUND THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "reviews"'
        USING ERRCODE = 'insufficient_privilege', HINT = 'Only the person who booked reviews a booking.';
    END IF;
    IF v_booking.status <> 'completed' THEN
      RAISE EXCEPTION 'Only a completed booking can be reviewed.' USING ERRCODE = 'PT409', DETAIL = 'booking_not_completed';
    END IF;
    NEW.organization_id := v_booking.organization_id;
    NEW.resource_id := v_booking.resource_id;
    NEW.reviewer_id := v_booking.booked_by;
    IF NEW.status <> 'published' OR NEW.reply IS NOT NULL OR NEW.replied_by IS NOT NULL OR NEW.replied_at IS NOT NULL THEN
      RAISE EXCEPTION 'a review is published when written, without a reply' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;

  IF (NEW.booking_id, NEW.resource_id, NEW.reviewer_id, NEW.created_at)
     IS DISTINCT FROM (OLD.booking_id, OLD.resource_id, OLD.reviewer_id, OLD.created_at) THEN
    RAISE EXCEPTION 'a review stays the review of its booking and reviewer' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status = 'removed' AND NEW.status <> 'removed' THEN
    RAISE EXCEPTION 'a removed review stays removed' USING ERRCODE = 'check_violation', CONSTRAINT = 'reviews_removed_is_final';
  END IF;
  IF OLD.reviewer_id = v_me AND NOT v_staff THEN
    IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'removed' THEN
      RAISE EXCEPTION 'a reviewer may remove their review; hiding and showing it is the organization''s'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.reply, NEW.replied_by, NEW.replied_at) IS DISTINCT FROM (OLD.reply, OLD.replied_by, OLD.replied_at) THEN
      RAISE EXCEPTION 'the reply is the organization''s' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF NOT v_staff THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "reviews"' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (NEW.rating, NEW.content) IS DISTINCT FROM (OLD.rating, OLD.content) AND OLD.reviewer_id IS DISTINCT FROM v_me THEN
    RAISE EXCEPTION 'a review''s rating and content are its reviewer''s' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.status = 'removed' AND OLD.status <> 'removed' AND OLD.reviewer_id IS DISTINCT FROM v_me THEN
    RAISE EXCEPTION 'staff hide a review; removing it is its reviewer''s' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.reply IS DISTINCT FROM OLD.reply THEN
    NEW.replied_by := CASE WHEN NEW.reply IS NULL THEN NULL ELSE booking_internal.actor_id() END;
    NEW.replied_at := CASE WHEN NEW.reply IS NULL THEN NULL ELSE now() END;
  ELSIF (NEW.replied_by, NEW.replied_at) IS DISTINCT FROM (OLD.replied_by, OLD.replied_at) THEN
    RAISE EXCEPTION 'replied_by and replied_at follow the reply' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reviews_1_guard BEFORE INSERT OR UPDATE ON booking.reviews
  FOR EACH ROW EXECUTE FUNCTION booking_internal.reviews_guard();

-- Published reviews are seen by whoever sees the organization (a public one's by anyone); the
-- reviewer sees theirs and the organization's staff all of its reviews. The reviewer writes
-- theirs (the guard says what), staff moderate; nobody deletes one through the API.
CREATE POLICY reviews_select ON booking.reviews FOR SELECT
  USING ((status = 'published'
          AND (organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[])
               OR organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])))
         OR reviewer_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY reviews_insert ON booking.reviews FOR INSERT
  WITH CHECK (reviewer_id = (SELECT booking.current_user_id()));
CREATE POLICY reviews_update ON booking.reviews FOR UPDATE
  USING (reviewer_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (reviewer_id = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- The seed's salon_reviews_with_counts_view: each review the caller may see, with its
-- organization's figures over its published reviews (one rating_summary per organization).
CREATE VIEW booking.organization_reviews_with_counts WITH (security_invoker = true) AS
SELECT r.id, r.organization_id, r.booking_id, r.resource_id, r.rating, r.content, r.status, r.reply, r.replied_at,
       r.created_at, r.updated_at,
       coalesce((r.summary ->> 'count')::bigint, 0) AS total_reviews,
       (r.summary ->> 'average')::numeric(3, 2) AS average_rating,
       coalesce((r.summary -> 'histogram' ->> '5')::bigint, 0) AS five_star_count,
       coalesce((r.summary -> 'histogram' ->> '4')::bigint, 0) AS four_star_count,
       coalesce((r.summary -> 'histogram' ->> '3')::bigint, 0) AS three_star_count,
       coalesce((r.summary -> 'histogram' ->> '2')::bigint, 0) AS two_star_count,
       coalesce((r.summary -> 'histogram' ->> '1')::bigint, 0) AS one_star_count
FROM (SELECT rv.id, rv.organization_id, rv.booking_id, rv.resource_id, rv.rating, rv.content, rv.status, rv.reply,
             rv.replied_at, rv.created_at, rv.updated_at,
             booking.rating_summary(rv.rating) FILTER (WHERE rv.status = 'published')
               OVER (PARTITION BY rv.organization_id) AS summary
      FROM booking.reviews rv) r;

-- ---------------------------------------------------------------------------------------------
-- The seed's other views, on booking_ext's tables, as the caller (security_invoker)
-- ---------------------------------------------------------------------------------------------

-- audit_logs_view: the audit log with the actor's display name (where the caller sees their card).
CREATE VIEW booking.audit_log_view WITH (security_invoker = true) AS
SELECT a.id, a.organization_id, a.entity_type, a.entity_id, a.action, a.actor_id, a.actor_role,
       c.display_name AS actor_display_name, c.avatar_url AS actor_avatar_url,
       a.old_values, a.new_values, a.reason, a.source, a.created_at
FROM booking.audit_log a
LEFT JOIN booking.profile_cards c ON c.user_id = a.actor_id;

-- view_notifications: notifications with the recipient's display fields.
CREATE VIEW booking.notifications_view WITH (security_invoker = true) AS
SELECT n.id, n.organization_id, n.recipient_id, n.notification_type, n.message, n.metadata, n.read_at,
       n.created_at, n.updated_at,
       c.display_name AS recipient_display_name, c.avatar_url AS recipient_avatar_url
FROM booking.notifications n
LEFT JOIN booking.profile_cards c ON c.user_id = n.recipient_id;

-- view_blocked_times_with_relations: closed times (a resource's, or the whole organization's
-- when resource_id is NULL) with their resource and, for a professional's calendar, the person.
CREATE VIEW booking.blocked_times_view WITH (security_invoker = true) AS
SELECT e.id, e.organization_id, e.resource_id, r.title AS resource_title, r.kind AS resource_kind,
       p.id AS professional_id, p.user_id AS professional_user_id, c.display_name AS professional_display_name,
       e.reason, lower(e.during) AS blocked_from, upper(e.during) AS blocked_until, e.created_at, e.updated_at
FROM booking.availability_exceptions e
LEFT JOIN booking.resources r ON r.id = e.resource_id
LEFT JOIN booking.professionals p ON p.resource_id = e.resource_id
LEFT JOIN booking.profile_cards c ON c.user_id = p.user_id
WHERE e.kind = 'closed';

-- view_profile_metadata: the caller's profile with its metadata's well-known keys.
CREATE VIEW booking.profile_metadata_view WITH (security_invoker = true) AS
SELECT p.user_id, p.display_name, p.first_name, p.last_name,
       nullif(concat_ws(' ', p.first_name, p.last_name), '') AS full_name,
       p.email, p.phone, p.avatar_url, p.created_at, p.updated_at,
       p.metadata -> 'preferences' AS preferences,
       p.metadata -> 'tags' AS tags,
       p.metadata -> 'interests' AS interests,
       p.metadata -> 'social_links' AS social_links,
       CASE WHEN jsonb_typeof(p.metadata -> 'status') = 'string' THEN p.metadata ->> 'status' ELSE 'active' END AS account_status
FROM booking.profiles p;

-- A preference of metadata.preferences at a path, or its default when absent or of another
-- JSON type (so that one odd value cannot break the view for its person).
CREATE FUNCTION booking_internal.preference_flag(p_metadata jsonb, p_group text, p_key text, p_default boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(p_metadata -> 'preferences' -> p_group -> p_key) = 'boolean'
            THEN (p_metadata -> 'preferences' -> p_group -> p_key)::boolean ELSE p_default END;

CREATE FUNCTION booking_internal.preference_minutes(p_metadata jsonb, p_group text, p_key text, p_default integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(p_metadata -> 'preferences' -> p_group -> p_key) = 'number'
                 AND (p_metadata -> 'preferences' -> p_group ->> p_key)::numeric BETWEEN 0 AND 525600
            THEN (p_metadata -> 'preferences' -> p_group ->> p_key)::numeric::integer ELSE p_default END;

-- view_user_preferences: the seed's preference keys, with its defaults.
CREATE VIEW booking.user_preferences_view WITH (security_invoker = true) AS
SELECT p.user_id, p.display_name,
       booking_internal.preference_flag(p.metadata, 'notifications', 'email', true) AS email_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'notifications', 'push', true) AS push_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'notifications', 'sms', false) AS sms_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'booking', 'auto_confirm', false) AS booking_auto_confirm,
       booking_internal.preference_minutes(p.metadata, 'booking', 'reminder_minutes', 1440) AS booking_reminder_minutes,
       booking_internal.preference_flag(p.metadata, 'marketing', 'newsletter', false) AS marketing_newsletter_enabled,
       booking_internal.preference_flag(p.metadata, 'marketing', 'promotions', false) AS marketing_promotions_enabled,
       booking_internal.preference_flag(p.metadata, 'privacy', 'profile_public', false) AS profile_public,
       booking_internal.preference_flag(p.metadata, 'privacy', 'show_reviews', true) AS show_reviews,
       p.updated_at AS preferences_updated_at
FROM booking.profiles p;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_engagement_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    -- a public organization's published reviews and their figures, without who wrote them
    GRANT SELECT (id, organization_id, booking_id, resource_id, rating, content, status, reply, replied_at,
                  created_at, updated_at)
      ON booking.reviews TO anon;
    GRANT SELECT ON booking.organization_reviews_with_counts TO anon;
    RETURN;
  END IF;
  IF p_role = 'authenticated' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['start_thread', 'send_message', 'mark_thread_read',
                                                         'delete_thread', 'get_threads_page']);
    GRANT UPDATE (body) ON booking.messages TO authenticated;
    GRANT INSERT, UPDATE, DELETE ON booking.customer_favorites TO authenticated;
    GRANT INSERT, UPDATE ON booking.reviews TO authenticated;
  END IF;
  -- the views call them as the caller
  PERFORM booking_internal.grant_execute(p_role, ARRAY['preference_flag', 'preference_minutes']);
  IF p_role = 'service_role' THEN
    -- threads and messages are written by their functions only (they keep the counts)
    REVOKE INSERT, UPDATE ON booking.message_threads, booking.messages FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.message_threads IS 'A conversation between two people (one thread per pair), in the context of an organization and optionally a booking; unread counts, last read and deletion per participant. Written by start_thread, send_message, mark_thread_read and delete_thread.';
COMMENT ON TABLE booking.messages IS 'A message of a thread; its sender may edit the body (edited_at follows).';
COMMENT ON TABLE booking.customer_favorites IS 'A person''s favourite organization, or resource or service of one; each once.';
COMMENT ON TABLE booking.reviews IS 'A review of a completed booking by its booker (once): rating 1 to 5, content, status published/hidden/removed, the organization''s reply.';
COMMENT ON VIEW booking.customer_favorites_view IS 'The caller''s favourites with the names of what they are (seed 004''s customer_favorites_view).';
COMMENT ON VIEW booking.organization_reviews_with_counts IS 'Each review the caller may see with its organization''s figures over published reviews: total, average, per-star counts (seed 004''s salon_reviews_with_counts_view; rating_summary).';
COMMENT ON VIEW booking.audit_log_view IS 'The audit log rows the caller may read, with the actor''s display name and avatar where the caller sees their card (seed 004''s audit_logs_view).';
COMMENT ON VIEW booking.notifications_view IS 'The caller''s notifications with their display name and avatar (seed 004''s view_notifications).';
COMMENT ON VIEW booking.blocked_times_view IS 'Closed times the caller may see, with the resource and, for a professional''s calendar, the professional (seed 004''s view_blocked_times_with_relations).';
COMMENT ON VIEW booking.profile_metadata_view IS 'The caller''s profile with metadata''s preferences, tags, interests, social_links and status (seed 004''s view_profile_metadata).';
COMMENT ON VIEW booking.user_preferences_view IS 'The caller''s preferences from profile metadata, with seed 004''s defaults (view_user_preferences).';
COMMENT ON FUNCTION booking.start_thread(text, text, text, uuid) IS 'The caller''s thread with p_recipient_id, created if missing (one per pair, race-free), with a first message when p_body is given; PT409 not_connected for a stranger.';
COMMENT ON FUNCTION booking.send_message(uuid, text) IS 'Sends a message (1 to 4000 characters) in a thread of the caller''s; notifies the recipient and writes an outbox event.';
COMMENT ON FUNCTION booking.mark_thread_read(uuid) IS 'The caller has read the thread: their unread count drops to zero and its message notifications are marked read.';
COMMENT ON FUNCTION booking.delete_thread(uuid) IS 'Deletes the thread for the caller only: hidden with its messages so far until a newer message arrives.';
COMMENT ON FUNCTION booking.get_threads_page(integer, integer) IS 'A page of the caller''s threads, the latest first, with the other participant, the caller''s unread count and the last message; p_limit 1 to 100, p_offset 0 to 100000.';
COMMENT ON FUNCTION booking_internal.thread_organization(text, text, uuid) IS 'Internal: the organization through which two people may message each other (shared membership, staff and client, or both party to the booking), NULL for strangers.';
COMMENT ON FUNCTION booking_internal.post_message(booking.message_threads, text) IS 'Internal: the one writer of messages: the message, the other participant''s unread count, the notification and the outbox event.';
COMMENT ON FUNCTION booking_internal.lock_my_thread(uuid) IS 'Internal: a thread of the caller''s, locked; 22023 for any other.';
COMMENT ON FUNCTION booking_internal.messages_edit() IS 'Trigger: only a message''s body is edited, edited_at follows.';
COMMENT ON FUNCTION booking_internal.reviews_guard() IS 'Trigger: a review is of a completed booking by its booker; what the reviewer and the staff may change.';
COMMENT ON FUNCTION booking_internal.preference_flag(jsonb, text, text, boolean) IS 'Internal: a boolean preference of profile metadata, or its default.';
COMMENT ON FUNCTION booking_internal.preference_minutes(jsonb, text, text, integer) IS 'Internal: a minutes preference of profile metadata (0 to 525600), or its default.';
COMMENT ON FUNCTION booking_internal.grant_engagement_privileges(text) IS 'Internal: the engagement module''s grants to an API role (called by grant_api_privileges).';
