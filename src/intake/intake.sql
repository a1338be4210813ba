-- booking_ext, module intake: requests from outside (seed 002's external_requests and
-- request_attachments). AppSheet and Google Forms workers (service_role), an app's users (api)
-- and staff keying in a phone call (manual) submit requests; staff process them. A request is
-- known by (organization, source, external id): a form resubmitted or a webhook retried finds
-- the request it already made, never a second one. Approving a booking request books through
-- the rule book in the same transaction and links the request and the booking both ways.

CREATE TABLE booking.external_requests (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  source           text NOT NULL CHECK (source IN ('appsheet', 'google_forms', 'api', 'manual')),
  external_id      text NOT NULL CHECK (length(btrim(external_id)) > 0)
                   CONSTRAINT external_requests_external_id_size CHECK (length(external_id) <= 200),
  request_type     text NOT NULL CHECK (request_type IN ('booking', 'inquiry', 'complaint', 'suggestion')),
  request_data     jsonb NOT NULL CHECK (jsonb_typeof(request_data) = 'object')
                   CONSTRAINT external_requests_request_data_size CHECK (octet_length(request_data::text) <= 16384),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processing', 'approved', 'rejected', 'cancelled')),
  priority         text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  -- The signed-in person who submitted it (sources api and manual); NULL from a worker.
  submitted_by     text CONSTRAINT external_requests_submitted_by_size CHECK (length(submitted_by) <= 200),
  assigned_to      text CONSTRAINT external_requests_assigned_to_size CHECK (length(assigned_to) <= 200),
  -- The booking an approved booking request made (bookings.external_request_id points back,
  -- with the foreign key: one direction only, so that a restore can load the two tables in
  -- turn; a trigger on bookings clears this when the booking is deleted).
  booking_id       uuid,
  -- The rule book's last refusal when approving it (the reason code and the sentence).
  refusal          text CONSTRAINT external_requests_refusal_size CHECK (length(refusal) <= 200),
  refusal_message  text CONSTRAINT external_requests_refusal_message_size CHECK (length(refusal_message) <= 4000),
  refused_at       timestamptz,
  processed_at     timestamptz,
  processed_by     text CONSTRAINT external_requests_processed_by_size CHECK (length(processed_by) <= 200),
  processing_notes text CONSTRAINT external_requests_processing_notes_size CHECK (length(processing_notes) <= 4000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT external_requests_source_external_id_key UNIQUE (organization_id, source, external_id),
  UNIQUE (id, organization_id)
);
CREATE INDEX external_requests_organization_status_idx ON booking.external_requests (organization_id, status, created_at);
CREATE INDEX external_requests_organization_created_idx ON booking.external_requests (organization_id, created_at);
CREATE INDEX external_requests_source_idx ON booking.external_requests (organization_id, source);
CREATE INDEX external_requests_submitted_by_idx ON booking.external_requests (submitted_by) WHERE submitted_by IS NOT NULL;
CREATE INDEX external_requests_booking_id_idx ON booking.external_requests (booking_id, organization_id) WHERE booking_id IS NOT NULL;
SELECT booking_internal.register_table('external_requests', 'intake', true, 'external_request');

CREATE TABLE booking.request_attachments (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  request_id      uuid NOT NULL,
  file_name       text NOT NULL CHECK (length(btrim(file_name)) > 0)
                  CONSTRAINT request_attachments_file_name_size CHECK (length(file_name) <= 255),
  file_type       text NOT NULL CONSTRAINT request_attachments_file_type_mime
                  CHECK (file_type ~ '^[a-z]+/[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$'),
  file_size       integer NOT NULL CONSTRAINT request_attachments_file_size_range
                  CHECK (file_size BETWEEN 0 AND 104857600),
  -- Metadata and a link only: the file itself lives in storage (a bucket), never in a row.
  file_url        text NOT NULL CONSTRAINT request_attachments_file_url_http CHECK (file_url ~ '^https?://[^\s]+$')
                  CONSTRAINT request_attachments_file_url_size CHECK (length(file_url) <= 2000),
  uploaded_by     text NOT NULL CONSTRAINT request_attachments_uploaded_by_size CHECK (length(uploaded_by) <= 200),
  uploaded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT request_attachments_request_same_organization FOREIGN KEY (request_id, organization_id)
    REFERENCES booking.external_requests (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX request_attachments_request_id_idx ON booking.request_attachments (request_id, organization_id);
CREATE INDEX request_attachments_organization_id_idx ON booking.request_attachments (organization_id);
SELECT booking_internal.register_table('request_attachments', 'intake', true, 'request_attachment');

-- The booking an approved request made names it (the other direction of the link). Added here
-- by the intake module, so a fresh install and an upgrade put the column in the same place.
ALTER TABLE booking.bookings ADD COLUMN external_request_id uuid;
ALTER TABLE booking.bookings ADD CONSTRAINT bookings_external_request_same_organization
  FOREIGN KEY (external_request_id, organization_id)
  REFERENCES booking.external_requests (id, organization_id) ON DELETE SET NULL (external_request_id);
CREATE INDEX bookings_external_request_id_idx ON booking.bookings (external_request_id, organization_id)
  WHERE external_request_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Seed 002's smaller columns, each doing something (docs/intake.md#seed-002s-columns):
-- resources.conflict_detection_enabled (detect_conflicts skips a resource that says false),
-- resources.booking_restrictions (the rule book's minimum length and most seats a booking),
-- resources.approval_workflow_id and bookings.approval_workflow_id (the app's workflow for the
-- resource's requests, copied to each booking by the database), bookings.auto_approved (set by
-- the database: approved on creation by a resource or service that approves by itself),
-- bookings.conflict_resolution_notes (staff's). Added here, so that a fresh install and an
-- upgrade put the columns in the same place.
-- ---------------------------------------------------------------------------------------------

-- The keys of resources.booking_restrictions: 22023 naming the first wrong one, else true.
CREATE FUNCTION booking_internal.check_booking_restrictions(p_restrictions jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key   text;
  v_value jsonb;
  v_most  integer;
BEGIN
  IF jsonb_typeof(p_restrictions) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'booking_restrictions must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_restrictions) LOOP
    IF v_key NOT IN ('min_booking_minutes', 'max_seats_per_booking') THEN
      RAISE EXCEPTION 'booking_restrictions.% is not a restriction booking_ext knows', left(v_key, 100)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Restrictions: min_booking_minutes, max_seats_per_booking.';
    END IF;
    v_most := CASE v_key WHEN 'min_booking_minutes' THEN 10080 ELSE 100000 END;
    IF jsonb_typeof(v_value) <> 'number' OR (v_value #>> '{}')::numeric <> trunc((v_value #>> '{}')::numeric)
       OR (v_value #>> '{}')::numeric NOT BETWEEN 1 AND v_most THEN
      RAISE EXCEPTION 'booking_restrictions.% must be a whole number from 1 to %', v_key, v_most
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN true;
END $$;

ALTER TABLE booking.resources
  ADD COLUMN conflict_detection_enabled boolean NOT NULL DEFAULT true,
  ADD COLUMN approval_workflow_id uuid,
  ADD COLUMN booking_restrictions jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT resources_booking_restrictions_shape CHECK (booking_internal.check_booking_restrictions(booking_restrictions));
CREATE INDEX resources_approval_workflow_id_idx ON booking.resources (approval_workflow_id, organization_id)
  WHERE approval_workflow_id IS NOT NULL;
ALTER TABLE booking.bookings
  ADD COLUMN conflict_resolution_notes text
    CONSTRAINT bookings_conflict_resolution_notes_size CHECK (length(conflict_resolution_notes) <= 4000),
  ADD COLUMN auto_approved boolean NOT NULL DEFAULT false,
  ADD COLUMN approval_workflow_id uuid;
CREATE INDEX bookings_auto_approved_idx ON booking.bookings (organization_id, starts_at) WHERE auto_approved;
CREATE INDEX bookings_approval_workflow_id_idx ON booking.bookings (approval_workflow_id, organization_id)
  WHERE approval_workflow_id IS NOT NULL;

-- auto_approved and approval_workflow_id are the database's, whoever writes: set when the
-- booking is made (after the guard applied the rule book, which approves by itself when the
-- service's rules auto-confirm or, without a service, the resource auto-approves, as
-- enforce_booking_rules decides), the workflow taken again when the booking moves to another
-- resource; kept otherwise. Reads within the booking's own organization only.
CREATE FUNCTION booking_internal.bookings_approval_fields() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_auto boolean;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.auto_approved := OLD.auto_approved;
    IF NEW.resource_id IS NOT DISTINCT FROM OLD.resource_id THEN
      NEW.approval_workflow_id := OLD.approval_workflow_id;
      RETURN NEW;
    END IF;
  END IF;
  SELECT r.approval_workflow_id,
         CASE WHEN NEW.service_id IS NULL THEN r.auto_approve
              ELSE (SELECT sr.auto_confirm FROM booking.service_rules sr
                    WHERE sr.service_id = NEW.service_id AND sr.organization_id = NEW.organization_id) END
  INTO NEW.approval_workflow_id, v_auto
  FROM booking.resources r WHERE r.id = NEW.resource_id AND r.organization_id = NEW.organization_id;
  IF TG_OP = 'INSERT' THEN
    NEW.auto_approved := NEW.status = 'approved' AND coalesce(v_auto, false);
  END IF;
  RETURN NEW;
END $$;
-- (Not for an occurrence of a series judged as a whole: book_series_at_once writes these two
-- fields as they are derived here, the resource's workflow and approved on creation by the rules.)
CREATE TRIGGER bookings_3_approval_fields BEFORE INSERT OR UPDATE OF resource_id, auto_approved, approval_workflow_id
  ON booking.bookings FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_approval_fields();

-- The most attachments one request may have.
CREATE FUNCTION booking_internal.max_request_attachments() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 20;

-- ---------------------------------------------------------------------------------------------
-- Rules on every path
-- ---------------------------------------------------------------------------------------------

-- A booking names a request only while that request is being approved into it, in the same
-- transaction (process_external_request): an approved booking request of the booking's own
-- organization, changed by this transaction, that has no booking yet. Nobody attaches a booking
-- to a request otherwise, or moves the link. The lookup stays inside the booking's organization.
CREATE FUNCTION booking_internal.bookings_external_request_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.external_requests r
                 WHERE r.id = NEW.external_request_id AND r.organization_id = NEW.organization_id
                   AND r.request_type = 'booking' AND r.status = 'approved' AND r.booking_id IS NULL
                   AND booking_internal.written_by_this_transaction(r.xmin)) THEN
    RAISE EXCEPTION 'a booking names an external request only when the request is approved into it'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_external_request_link',
            HINT = 'Approve the request with process_external_request.';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bookings_1_external_request BEFORE INSERT OR UPDATE OF external_request_id ON booking.bookings
  FOR EACH ROW WHEN (NEW.external_request_id IS NOT NULL)
  EXECUTE FUNCTION booking_internal.bookings_external_request_guard();

-- A deleted booking is no longer its request's.
CREATE FUNCTION booking_internal.bookings_external_request_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE booking.external_requests SET booking_id = NULL
  WHERE id = OLD.external_request_id AND organization_id = OLD.organization_id AND booking_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER bookings_8_external_request_deleted AFTER DELETE ON booking.bookings
  FOR EACH ROW WHEN (OLD.external_request_id IS NOT NULL)
  EXECUTE FUNCTION booking_internal.bookings_external_request_deleted();

-- Who a request is assigned to: an active owner, admin or staff member of its organization.
-- The uploader of an attachment is whoever writes it, and a request has a bounded number of them
-- (counted under the request's row lock, so concurrent uploads cannot pass the limit together).
CREATE FUNCTION booking_internal.external_requests_check_assignee() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.members m
                 WHERE m.organization_id = NEW.organization_id AND m.user_id = NEW.assigned_to
                   AND m.is_active AND m.role IN ('owner', 'admin', 'staff')) THEN
    RAISE EXCEPTION 'a request is assigned to an active owner, admin or staff member of its organization'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'external_requests_assignee';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER external_requests_1_assignee BEFORE INSERT OR UPDATE OF assigned_to ON booking.external_requests
  FOR EACH ROW WHEN (NEW.assigned_to IS NOT NULL)
  EXECUTE FUNCTION booking_internal.external_requests_check_assignee();

CREATE FUNCTION booking_internal.request_attachments_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count integer;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.request_id, NEW.uploaded_by, NEW.uploaded_at) IS DISTINCT FROM (OLD.request_id, OLD.uploaded_by, OLD.uploaded_at) THEN
      RAISE EXCEPTION 'an attachment''s request, uploader and upload time are fixed'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  NEW.uploaded_by := booking_internal.actor_id();
  NEW.uploaded_at := now();
  -- Row-level security has let the writer this far only for a request it may attach to (the
  -- policy is checked after BEFORE triggers, so look within the row's own organization only).
  PERFORM 1 FROM booking.external_requests r
  WHERE r.id = NEW.request_id AND r.organization_id = NEW.organization_id FOR UPDATE;
  IF FOUND THEN
    SELECT count(*) INTO v_count FROM booking.request_attachments a
    WHERE a.request_id = NEW.request_id AND a.organization_id = NEW.organization_id;
    IF v_count >= booking_internal.max_request_attachments() THEN
      RAISE EXCEPTION 'a request has at most % attachments', booking_internal.max_request_attachments()
        USING ERRCODE = 'check_violation', CONSTRAINT = 'request_attachments_per_request';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER request_attachments_1_guard BEFORE INSERT OR UPDATE ON booking.request_attachments
  FOR EACH ROW EXECUTE FUNCTION booking_internal.request_attachments_guard();

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

-- A request's own record for the outbox and the functions' answers.
CREATE FUNCTION booking_internal.enqueue_request_event(p_request booking.external_requests, p_topic text,
                                                       p_previous_status text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_request.organization_id, p_topic,
          jsonb_strip_nulls(jsonb_build_object(
            'request_id', p_request.id, 'source', p_request.source, 'external_id', p_request.external_id,
            'request_type', p_request.request_type, 'status', p_request.status,
            'previous_status', p_previous_status, 'priority', p_request.priority,
            'booking_id', p_request.booking_id, 'submitted_by', p_request.submitted_by)));
END $$;

-- Submit a request, idempotently on (organization, source, external id). See docs/intake.md.
CREATE FUNCTION booking.submit_external_request(p_organization_id uuid, p_source text, p_external_id text,
                                                p_request_type text, p_request_data jsonb,
                                                p_priority text DEFAULT 'normal')
RETURNS booking.external_requests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user       text := booking.current_user_id();
  v_privileged boolean := booking_internal.is_privileged();
  v_settings   jsonb;
  v_row        booking.external_requests;
BEGIN
  IF p_organization_id IS NULL OR p_source IS NULL OR p_request_type IS NULL OR p_request_data IS NULL
     OR p_priority IS NULL THEN
    RAISE EXCEPTION 'p_organization_id, p_source, p_request_type, p_request_data and p_priority must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM booking_internal.check_text_argument('p_external_id', p_external_id, 200),
          booking_internal.check_json_object('p_request_data', p_request_data);
  IF p_source NOT IN ('appsheet', 'google_forms', 'api', 'manual') THEN
    RAISE EXCEPTION 'unknown source "%"', left(p_source, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Sources: appsheet, google_forms, api, manual.';
  END IF;
  IF p_request_type NOT IN ('booking', 'inquiry', 'complaint', 'suggestion') THEN
    RAISE EXCEPTION 'unknown request type "%"', left(p_request_type, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Request types: booking, inquiry, complaint, suggestion.';
  END IF;
  IF p_priority NOT IN ('low', 'normal', 'high', 'urgent') THEN
    RAISE EXCEPTION 'unknown priority "%"', left(p_priority, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Priorities: low, normal, high, urgent.';
  END IF;

  -- Who may submit what: the integrations' sources are their worker's (service_role); a
  -- signed-in user submits as api to an organization they may book in; staff key in manual
  -- requests. An organization the caller may not submit to is not told apart from none.
  IF NOT v_privileged THEN
    IF v_user IS NULL THEN
      RAISE EXCEPTION 'submitting a request needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_source IN ('appsheet', 'google_forms') THEN
      RAISE EXCEPTION 'source % is for the integration''s worker (service_role)', p_source
        USING ERRCODE = 'insufficient_privilege', HINT = 'Submit as api.';
    END IF;
    IF NOT booking_internal.may_book_in(p_organization_id)
       OR (p_source = 'manual' AND NOT booking.is_staff(p_organization_id)) THEN
      RAISE EXCEPTION 'you may not submit % requests to organization %', p_source, p_organization_id
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  SELECT o.settings INTO v_settings FROM booking.organizations o WHERE o.id = p_organization_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown organization %', p_organization_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_settings #> ARRAY['integrations', p_source, 'enabled'] = 'false'::jsonb THEN
    RAISE EXCEPTION 'This organization does not take % requests.', replace(p_source, '_', ' ')
      USING ERRCODE = 'PT409', DETAIL = 'source_disabled',
            HINT = 'organizations.settings.integrations.' || p_source || '.enabled is false.';
  END IF;

  INSERT INTO booking.external_requests (organization_id, source, external_id, request_type, request_data,
                                         priority, submitted_by)
  VALUES (p_organization_id, p_source, p_external_id, p_request_type, p_request_data, p_priority,
          CASE WHEN p_source IN ('api', 'manual') THEN v_user END)
  ON CONFLICT ON CONSTRAINT external_requests_source_external_id_key DO NOTHING
  RETURNING * INTO v_row;
  IF FOUND THEN
    PERFORM booking_internal.enqueue_request_event(v_row, 'request.submitted');
    RETURN v_row;
  END IF;

  -- A replay. The row exists (the unique key's conflict waited for its writer to commit).
  SELECT * INTO v_row FROM booking.external_requests r
  WHERE r.organization_id = p_organization_id AND r.source = p_source AND r.external_id = p_external_id
  FOR UPDATE;
  -- A signed-in submitter's key is theirs: someone else reusing it learns nothing of the request.
  IF NOT v_privileged AND p_source IN ('api', 'manual') AND v_row.submitted_by IS DISTINCT FROM v_user THEN
    RAISE EXCEPTION 'This external id is already used by another submitter.'
      USING ERRCODE = 'PT409', DETAIL = 'external_id_taken', HINT = 'Use an id of your own.';
  END IF;
  -- While pending, a new delivery replaces what the request says (last delivery wins), except
  -- a delivery older than the stored one by the payload's own numeric "revision", which is a
  -- reordered retry and changes nothing. Once processing started, a replay changes nothing.
  IF v_row.status = 'pending'
     AND (v_row.request_type, v_row.request_data, v_row.priority)
         IS DISTINCT FROM (p_request_type, p_request_data, p_priority)
     AND NOT coalesce(booking_internal.json_number(p_request_data -> 'revision')
                      < booking_internal.json_number(v_row.request_data -> 'revision'), false) THEN
    UPDATE booking.external_requests
    SET request_type = p_request_type, request_data = p_request_data, priority = p_priority
    WHERE id = v_row.id
    RETURNING * INTO v_row;
    PERFORM booking_internal.enqueue_request_event(v_row, 'request.updated');
  END IF;
  RETURN v_row;
END $$;

-- A JSON number's value, NULL for anything else.
CREATE FUNCTION booking_internal.json_number(p_value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN jsonb_typeof(p_value) = 'number' THEN (p_value #>> '{}')::numeric END;

-- A booking request's fields, read from request_data (the keys book() takes); 22023 naming the
-- first one that is missing or malformed.
CREATE FUNCTION booking_internal.booking_request_fields(p_data jsonb,
                                                        OUT resource_id uuid, OUT starts_at timestamptz,
                                                        OUT ends_at timestamptz, OUT seats integer,
                                                        OUT service_id uuid, OUT title text, OUT notes text,
                                                        OUT booked_by text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  FOREACH v_key IN ARRAY ARRAY['resource_id', 'starts_at', 'ends_at'] LOOP
    IF jsonb_typeof(p_data -> v_key) IS DISTINCT FROM 'string' THEN
      RAISE EXCEPTION 'request_data.% is missing', v_key USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  BEGIN
    v_key := 'resource_id';  resource_id := (p_data ->> 'resource_id')::uuid;
    v_key := 'starts_at';    starts_at := (p_data ->> 'starts_at')::timestamptz;
    v_key := 'ends_at';      ends_at := (p_data ->> 'ends_at')::timestamptz;
    v_key := 'seats';        seats := coalesce((p_data ->> 'seats')::integer, 1);
    v_key := 'service_id';   service_id := (p_data ->> 'service_id')::uuid;
  EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION 'request_data.% is not valid: %', v_key, left(p_data ->> v_key, 100)
      USING ERRCODE = 'invalid_parameter_value';
  END;
  title := p_data ->> 'title';
  notes := p_data ->> 'notes';
  booked_by := p_data ->> 'booked_by';
  IF NOT (isfinite(starts_at) AND isfinite(ends_at) AND ends_at > starts_at) OR seats < 1 THEN
    RAISE EXCEPTION 'request_data asks for a booking that does not end after it starts, or for no seat'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(title) > 200 OR length(notes) > 4000 OR length(booked_by) > 200 THEN
    RAISE EXCEPTION 'request_data.title may have at most 200 characters, notes 4000 and booked_by 200'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Process a request (staff): start, approve, reject or cancel. See docs/intake.md.
CREATE FUNCTION booking.process_external_request(p_request_id uuid, p_action text, p_notes text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user     text := booking.current_user_id();
  v_actor    text := booking_internal.actor_id();
  v_org      uuid;
  v_mine     boolean;
  v_req      booking.external_requests;
  v_previous text;
  v_status   text;
  v_fields   record;
  v_person   text;
  v_booking  uuid;
  v_reason   text;
  v_message  text;
  v_problem  text;
BEGIN
  IF p_request_id IS NULL OR p_action IS NULL THEN
    RAISE EXCEPTION 'p_request_id and p_action must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_notes) > 4000 THEN
    RAISE EXCEPTION 'p_notes is longer than 4000 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_status := CASE p_action WHEN 'start' THEN 'processing' WHEN 'approve' THEN 'approved'
                            WHEN 'reject' THEN 'rejected' WHEN 'cancel' THEN 'cancelled' END;
  IF v_status IS NULL THEN
    RAISE EXCEPTION 'unknown action "%"', left(p_action, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Actions: start, approve, reject, cancel.';
  END IF;
  IF v_user IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'processing requests needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The caller's right first: staff of the request's organization. Its submitter is told they
  -- may not; anyone else, that there is no such request.
  SELECT r.organization_id, r.submitted_by = v_user INTO v_org, v_mine
  FROM booking.external_requests r WHERE r.id = p_request_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_org) THEN
    IF coalesce(v_mine, false) THEN
      RAISE EXCEPTION 'only the organization''s owners, admins and staff process requests'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'unknown request %', p_request_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action = 'reject' AND nullif(btrim(p_notes, E' \t\r\n\f\x0B'), '') IS NULL THEN
    RAISE EXCEPTION 'rejecting a request needs p_notes: the submitter is told why'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- One processor at a time per request: two approvals of one request make one booking.
  SELECT * INTO v_req FROM booking.external_requests WHERE id = p_request_id FOR UPDATE;
  v_previous := v_req.status;
  IF v_req.status NOT IN ('pending', 'processing') OR (v_status = 'processing' AND v_req.status = 'processing') THEN
    RAISE EXCEPTION 'this request is % and cannot be %', v_req.status,
                    CASE p_action WHEN 'start' THEN 'started' ELSE v_status END
      USING ERRCODE = 'PT409', DETAIL = 'request_transition',
            HINT = 'pending requests can be started, approved, rejected or cancelled; processing ones approved, rejected or cancelled; the others are final.';
  END IF;

  IF v_status = 'approved' AND v_req.request_type = 'booking' THEN
    BEGIN
      v_fields := booking_internal.booking_request_fields(v_req.request_data);
    EXCEPTION WHEN invalid_parameter_value THEN
      GET STACKED DIAGNOSTICS v_problem = MESSAGE_TEXT;
      v_reason := 'invalid_request_data';
      v_message := 'The request does not describe a booking: ' || v_problem || '.';
    END;
    IF v_reason IS NULL THEN
      IF NOT EXISTS (SELECT 1 FROM booking.resources r
                     WHERE r.id = v_fields.resource_id AND r.organization_id = v_req.organization_id) THEN
        v_reason := 'invalid_request_data';
        v_message := 'The request names a resource this organization does not have.';
      END IF;
    END IF;
    IF v_reason IS NULL THEN
      -- For whom: request_data.booked_by when that is an active member, else the submitter when
      -- they are one, else the staff member approving (staff book for members only).
      v_person := CASE
        WHEN booking_internal.is_active_member(v_req.organization_id, v_fields.booked_by) THEN v_fields.booked_by
        WHEN booking_internal.is_active_member(v_req.organization_id, v_req.submitted_by) THEN v_req.submitted_by
        ELSE v_actor END;
      BEGIN
        -- The rule book, as book() applies it (the approver's staff rights approve the booking).
        PERFORM booking_internal.enforce_booking_rules(v_req.organization_id, v_fields.resource_id, v_fields.service_id,
                                                       v_fields.starts_at, v_fields.ends_at, v_fields.seats, NULL);
        UPDATE booking.external_requests
        SET status = 'approved', processed_at = now(), processed_by = v_actor,
            processing_notes = coalesce(p_notes, processing_notes), refusal = NULL, refusal_message = NULL, refused_at = NULL
        WHERE id = v_req.id;
        INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title, client_notes,
                                      starts_at, ends_at, seats, status, source, external_request_id)
        VALUES (v_req.organization_id, v_fields.resource_id, v_fields.service_id, v_person, v_fields.title, v_fields.notes,
                v_fields.starts_at, v_fields.ends_at, v_fields.seats, 'approved',
                CASE v_req.source WHEN 'appsheet' THEN 'appsheet' WHEN 'manual' THEN 'manual' ELSE 'api' END,
                v_req.id)
        RETURNING id INTO v_booking;
        UPDATE booking.external_requests SET booking_id = v_booking WHERE id = v_req.id
        RETURNING * INTO v_req;
      EXCEPTION
        WHEN SQLSTATE 'PT409' THEN
          GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_reason = PG_EXCEPTION_DETAIL;
        WHEN exclusion_violation THEN
          GET STACKED DIAGNOSTICS v_reason = CONSTRAINT_NAME;
          v_reason := booking_internal.exclusion_refusal(v_reason);
          v_message := booking_internal.refusal_message(v_reason);
      END;
    END IF;
    IF v_reason IS NOT NULL THEN
      -- Refused: the request stays as it was, with the reason, and the answer is a 409 that
      -- commits (an exception would roll the recorded reason back). See docs/intake.md.
      UPDATE booking.external_requests
      SET refusal = left(v_reason, 200), refusal_message = left(v_message, 4000), refused_at = now(),
          processing_notes = coalesce(p_notes, processing_notes)
      WHERE id = v_req.id
      RETURNING * INTO v_req;
      PERFORM set_config('response.status', '409', true);
      RETURN jsonb_build_object('code', 'PT409', 'message', v_message, 'details', v_reason,
                                'hint', 'The request is still ' || v_req.status || '; fix the booking or reject the request.',
                                'request', to_jsonb(v_req));
    END IF;
  ELSE
    UPDATE booking.external_requests
    SET status = v_status,
        assigned_to = CASE WHEN v_status = 'processing' AND assigned_to IS NULL AND v_user IS NOT NULL
                                AND booking.is_staff(organization_id) THEN v_user ELSE assigned_to END,
        processed_at = CASE WHEN v_status <> 'processing' THEN now() END,
        processed_by = CASE WHEN v_status <> 'processing' THEN v_actor END,
        processing_notes = coalesce(p_notes, processing_notes)
    WHERE id = v_req.id
    RETURNING * INTO v_req;
  END IF;

  PERFORM booking_internal.enqueue_request_event(v_req, 'request.' || v_req.status, v_previous);
  -- The submitter hears of every outcome (a worker's sources have no one signed in to tell;
  -- the outbox event is for their worker).
  IF v_req.submitted_by IS NOT NULL AND v_req.status IN ('approved', 'rejected', 'cancelled') THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    VALUES (v_req.organization_id, v_req.submitted_by, 'request_' || v_req.status,
            btrim(booking_internal.render_notification(v_req.organization_id, 'request_' || v_req.status,
                    jsonb_build_object('request_type', v_req.request_type, 'status', v_req.status,
                                       'notes', coalesce(p_notes, ''), 'external_id', v_req.external_id,
                                       'request_id', v_req.id, 'booking_id', v_req.booking_id))),
            jsonb_strip_nulls(jsonb_build_object('request_id', v_req.id, 'external_id', v_req.external_id,
                                                 'status', v_req.status, 'booking_id', v_req.booking_id,
                                                 'changed_by', v_actor)));
  END IF;
  RETURN to_jsonb(v_req);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security and grants
-- ---------------------------------------------------------------------------------------------

-- external_requests: staff see and annotate their organization's (priority, assignee, notes);
-- a submitter sees their own. Rows are written by the two functions above (running as the
-- owner); status, booking and processing fields change only through process_external_request.
CREATE POLICY external_requests_select ON booking.external_requests FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR submitted_by = (SELECT booking.current_user_id()));
CREATE POLICY external_requests_update ON booking.external_requests FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- request_attachments: staff manage their organization's; a submitter adds to and reads their
-- own request while it is pending.
CREATE POLICY request_attachments_select ON booking.request_attachments FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR request_id IN (SELECT r.id FROM booking.external_requests r
                           WHERE r.submitted_by = (SELECT booking.current_user_id())));
CREATE POLICY request_attachments_insert ON booking.request_attachments FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR request_id IN (SELECT r.id FROM booking.external_requests r
                                WHERE r.submitted_by = (SELECT booking.current_user_id()) AND r.status = 'pending'));
CREATE POLICY request_attachments_update ON booking.request_attachments FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY request_attachments_delete ON booking.request_attachments FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

CREATE FUNCTION booking_internal.grant_intake_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['submit_external_request', 'process_external_request']);
  -- the restrictions constraint runs as whoever writes a resource
  PERFORM booking_internal.grant_execute(p_role, ARRAY['check_booking_restrictions']);
  IF p_role = 'authenticated' THEN
    GRANT UPDATE (priority, assigned_to, processing_notes) ON booking.external_requests TO authenticated;
    GRANT INSERT, DELETE, UPDATE (file_name, file_type, file_size, file_url) ON booking.request_attachments TO authenticated;
  ELSE
    -- the worker too: requests are made and decided by the two functions (idempotency, the
    -- rule book, the link to the booking); it may annotate and delete them
    REVOKE INSERT, UPDATE ON booking.external_requests FROM service_role;
    GRANT UPDATE (priority, assigned_to, processing_notes) ON booking.external_requests TO service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.external_requests IS 'Requests from outside (seed 002): AppSheet and Google Forms (their worker, as service_role), an app''s users (api) and staff (manual); one per (organization, source, external id). Staff read and annotate their organization''s (priority, assigned_to, processing_notes), submitters read their own; made by submit_external_request and decided by process_external_request.';
COMMENT ON COLUMN booking.external_requests.request_data IS 'What the form or app sent (a JSON object of at most 16 kB). For a booking request: resource_id, starts_at, ends_at, and optionally seats, service_id, title, notes, booked_by (a member); a numeric revision orders replays.';
COMMENT ON COLUMN booking.external_requests.submitted_by IS 'The signed-in submitter (sources api and manual); NULL for a worker''s sources.';
COMMENT ON COLUMN booking.external_requests.booking_id IS 'The booking an approved booking request made (bookings.external_request_id names the request).';
COMMENT ON COLUMN booking.external_requests.refusal IS 'Why the last approval was refused: the rule book''s reason (overlap, capacity, closed, notice, horizon, length, external_event, ...) or invalid_request_data.';
COMMENT ON TABLE booking.request_attachments IS 'Files of a request, as metadata and a link (http or https URL, at most 100 MB, at most 20 per request); uploaded_by and uploaded_at are set by the database. Staff manage them; a submitter adds to their own pending request.';
COMMENT ON COLUMN booking.bookings.external_request_id IS 'The external request this booking was approved from (set only by process_external_request).';
COMMENT ON FUNCTION booking.submit_external_request(uuid, text, text, text, jsonb, text) IS 'Submits a request, idempotently on (organization, source, external id): a replay returns the existing request (while pending, updated to the new delivery unless its numeric request_data.revision is older), never a second one. appsheet and google_forms are for service_role; signed-in users submit as api to organizations they may book in; staff as manual. 22023 bad arguments, 42501 not allowed, PT409 source_disabled or external_id_taken.';
COMMENT ON FUNCTION booking.process_external_request(uuid, text, text) IS 'Staff: start, approve, reject (p_notes required) or cancel a pending or processing request. Approving a booking request books it through the rule book in the same transaction and links both ways; a refusal keeps the request as it was with the reason recorded and answers {code: PT409, message, details: reason, request} with HTTP 409, committed. Returns the request as JSON. 22023, 42501; PT409 request_transition.';
COMMENT ON FUNCTION booking_internal.bookings_external_request_guard() IS 'Trigger: a booking names an external request only while that request is being approved into it, in the same transaction.';
COMMENT ON FUNCTION booking_internal.bookings_external_request_deleted() IS 'Trigger: a deleted booking is no longer named by its external request.';
COMMENT ON FUNCTION booking_internal.external_requests_check_assignee() IS 'Trigger: a request is assigned to an active owner, admin or staff member of its organization.';
COMMENT ON FUNCTION booking_internal.request_attachments_guard() IS 'Trigger: sets uploaded_by and uploaded_at, keeps them and the request fixed, and allows at most max_request_attachments() per request.';
COMMENT ON FUNCTION booking_internal.check_booking_restrictions(jsonb) IS 'Internal: the shape of resources.booking_restrictions (min_booking_minutes 1-10080, max_seats_per_booking 1-100000): 22023 naming the first wrong key, else true.';
COMMENT ON FUNCTION booking_internal.bookings_approval_fields() IS 'Trigger: sets bookings.auto_approved (approved on creation by a resource or service that approves by itself) and approval_workflow_id (the resource''s), whoever writes.';
COMMENT ON COLUMN booking.resources.conflict_detection_enabled IS 'false: detect_conflicts leaves this resource out (seed 002).';
COMMENT ON COLUMN booking.resources.approval_workflow_id IS 'The app''s approval workflow for this resource''s bookings (an id of the app''s; copied to each new booking).';
COMMENT ON COLUMN booking.resources.booking_restrictions IS 'Restrictions the rule book applies to every booking of the resource: min_booking_minutes (PT409 length), max_seats_per_booking (PT409 seats).';
COMMENT ON COLUMN booking.bookings.conflict_resolution_notes IS 'Staff''s notes on how a conflict around this booking was resolved (at most 4000 characters; bookers cannot set it).';
COMMENT ON COLUMN booking.bookings.auto_approved IS 'Set by the database: true when the booking was created approved by a resource or service that approves by itself.';
COMMENT ON COLUMN booking.bookings.approval_workflow_id IS 'Set by the database: the resource''s approval_workflow_id when the booking was made (or moved to another resource).';
COMMENT ON FUNCTION booking_internal.max_request_attachments() IS 'Internal: the most attachments one request may have (20).';
COMMENT ON FUNCTION booking_internal.enqueue_request_event(booking.external_requests, text, text) IS 'Internal: writes a request''s outbox event (request.submitted, request.updated, request.<status>).';
COMMENT ON FUNCTION booking_internal.json_number(jsonb) IS 'Internal: a JSON number''s value, NULL for anything else.';
COMMENT ON FUNCTION booking_internal.booking_request_fields(jsonb) IS 'Internal: a booking request''s resource, times, seats, service, title, notes and person from its request_data; 22023 naming the field that is missing or malformed.';
COMMENT ON FUNCTION booking_internal.grant_intake_privileges(text) IS 'Internal: the intake module''s grants to an API role (called by grant_api_privileges).';
