-- booking_ext: documentation in the catalog (\d+ and \df+ show it; PostgREST's OpenAPI too).
-- Runs last. A test checks that every table and function of the schema has a comment.

COMMENT ON TABLE booking.organizations IS 'A tenant: slug, name, IANA time_zone, is_public (anonymous visitors see its bookable resources and hours), settings.';
COMMENT ON TABLE booking.members IS 'Membership of a user (JWT subject) in an organization, with role owner, admin, staff, member or client.';
COMMENT ON TABLE booking.resources IS 'Something bookable (space, equipment, person, other) with capacity, time zone, approval, buffers, slot interval, notice and horizon.';
COMMENT ON TABLE booking.availability_rules IS 'Weekly opening hours in local wall-clock time; resource_id NULL is the organization default; several rows a day express breaks.';
COMMENT ON TABLE booking.availability_exceptions IS 'A closed or open time range for a resource or (resource_id NULL) the whole organization.';
COMMENT ON TABLE booking.services IS 'A service an organization offers, with duration and price.';
COMMENT ON TABLE booking.service_rules IS 'Booking rules of one service: notice, horizon, deposit, concurrency, staff-only, auto-confirm.';
COMMENT ON TABLE booking.bookings IS 'A reservation of a resource for [starts_at, ends_at). pending and approved hold time; no overlap on capacity 1, never above capacity N.';
COMMENT ON TABLE booking.booking_services IS 'The services in a booking, with duration and price at booking time.';
COMMENT ON TABLE booking.booking_transitions IS 'Every status change of a booking, with who made it and why. Written by the database.';
COMMENT ON TABLE booking.notifications IS 'A message to a user; the recipient reads it and marks it read.';
COMMENT ON TABLE booking.audit_log IS 'Append-only record of inserts, updates (changed columns) and deletes of the business tables, with actor and reason.';
COMMENT ON TABLE booking.outbox IS 'Integration events to deliver, written in the same transaction as the change they describe.';
COMMENT ON TABLE booking.conflicts IS 'Problems detected in existing data: double booking, time-zone mismatch, unavailable resource, capacity exceeded.';
COMMENT ON COLUMN booking.bookings.during IS 'Generated [starts_at, ends_at) range.';

COMMENT ON FUNCTION booking.current_user_id() IS 'The caller''s id: the JWT sub claim (request.jwt.claim.sub or request.jwt.claims ->> ''sub''); NULL when anonymous.';
COMMENT ON FUNCTION booking.current_role() IS 'The caller''s API role: the JWT role claim, else the database role running the statement.';
COMMENT ON FUNCTION booking.is_valid_time_zone(text) IS 'True when the name is an IANA time zone (exact spelling) that both Postgres and the engine''s time-zone database know; the rule the tables'' time_zone columns are checked with.';
COMMENT ON FUNCTION booking.user_organization_ids(text[]) IS 'The organizations the caller is an active member of (optionally only with one of the given roles), as uuid[].';
COMMENT ON FUNCTION booking.public_organization_ids() IS 'The organizations marked is_public, as uuid[].';
COMMENT ON FUNCTION booking.is_member(uuid) IS 'True when the caller is an active member of the organization, in any role.';
COMMENT ON FUNCTION booking.is_staff(uuid) IS 'True when the caller is an owner, admin or staff member of the organization.';
COMMENT ON FUNCTION booking.is_admin(uuid) IS 'True when the caller is an owner or admin of the organization.';
COMMENT ON FUNCTION booking.create_api_roles() IS 'Creates the Supabase API roles anon, authenticated and service_role where missing, and grants booking_ext''s privileges to them. Superuser only.';
COMMENT ON FUNCTION booking.grant_api_privileges() IS 'Grants booking_ext''s privileges to the API roles that exist; returns their names. Called at install and by create_api_roles().';
COMMENT ON FUNCTION booking.transition_allowed(text, text, boolean) IS 'May a booking go from one status to another? by_staff false asks whether the booker may do it. Unknown statuses raise 22023.';
COMMENT ON FUNCTION booking.status_transitions() IS 'The legal status changes of a booking, and whether the booker may make each (otherwise staff only).';
COMMENT ON FUNCTION booking.booking_statuses() IS 'The booking statuses in lifecycle order; pending and approved hold time.';
COMMENT ON FUNCTION booking.get_available_slots(uuid, timestamptz, timestamptz, integer, uuid, integer) IS 'The free slots (slot_start, slot_end) of a resource in a window for a booking of p_duration_minutes and p_seats: weekly rules in local time, exceptions, buffers, slot grid, notice and horizon (service rules win), capacity. Reveals no booker.';
COMMENT ON FUNCTION booking.can_book_resource(uuid, timestamptz, timestamptz, integer) IS 'True exactly when a booking of that interval and seats would be accepted now: hours, exceptions, buffers, notice, horizon and capacity (same engine as get_available_slots).';
COMMENT ON FUNCTION booking.get_available_slots_any(uuid[], timestamptz, timestamptz, integer, uuid, integer) IS 'The slots in which at least one of the resources is free, with the free ones (resource_ids, in the order asked): get_available_slots over a pool of at most 100 resources.';
COMMENT ON FUNCTION booking.find_next_slot(uuid[], timestamptz, integer, integer, interval) IS 'The earliest free slot (slot_start, slot_end, resource_id) among the resources within p_within (at most 366 days) after p_after; no row when there is none. Searches a day, a week, then 30 days at a time.';
COMMENT ON FUNCTION booking.open_periods(uuid, date, uuid) IS 'The open periods of one local day of an organization (or one of its resources) as instants, with the time zone used.';
COMMENT ON FUNCTION booking.calculate_business_hours(uuid, date, uuid) IS 'A day''s hours (seed 004 shape) after exceptions; one row per break; real elapsed minutes across DST.';
COMMENT ON FUNCTION booking.calculate_duration_minutes(uuid[]) IS 'Sum of the services'' durations, each id counted as listed; inactive services count 0; unknown ids raise 22023.';
COMMENT ON FUNCTION booking.booking_refusal(uuid, timestamptz, timestamptz, integer, uuid) IS 'Why book() would refuse this booking now (closed, notice, horizon, overlap, capacity), or NULL when it would accept it.';
COMMENT ON FUNCTION booking.book(uuid, timestamptz, timestamptz, integer, uuid, text, text) IS 'Books a resource for the signed-in caller, race-free; refusals raise PT409 (HTTP 409) with the reason in DETAIL; approved when the resource auto-approves, else pending.';
COMMENT ON FUNCTION booking_internal.bookings_enqueue_outbox() IS 'Trigger: an outbox event for every booking creation and status change.';

COMMENT ON FUNCTION booking_internal.is_bulk_load() IS 'Internal: true while a pg_dump restore loads rows (row_security off in a session logged in as a role that bypasses RLS); act rules and audit side effects are skipped then. An API session never counts, whatever it sets.';
COMMENT ON FUNCTION booking_internal.is_privileged() IS 'Internal: true when the role the caller acts as (its SET ROLE, else its login role; never the owner of a SECURITY DEFINER function) is a superuser or bypasses row-level security.';
COMMENT ON FUNCTION booking_internal.actor_id() IS 'Internal: the actor recorded in transitions and approvals: the JWT subject, else the login role.';
COMMENT ON SCHEMA booking_internal IS 'booking_ext''s internals, not part of the API and not exposed by PostgREST: trigger functions, locks, the aggregates'' support functions, and the helpers that code running as the caller needs.';
COMMENT ON FUNCTION booking_internal.held_seats_peak(uuid, tstzrange, uuid) IS 'Internal: the most seats held at one instant of a window by the time-holding bookings of a resource.';
COMMENT ON FUNCTION booking_internal.touch_updated_at() IS 'Trigger: keeps updated_at current on real changes.';
COMMENT ON FUNCTION booking_internal.check_time_zone() IS 'Trigger: refuses unknown time zones with 22023.';
COMMENT ON FUNCTION booking_internal.bookings_guard() IS 'Trigger: legal status transitions for everyone; what a booker (not staff) may change.';
COMMENT ON FUNCTION booking_internal.bookings_enforce_capacity() IS 'Trigger: bookable resources, no overlap on a capacity-1 resource and seats within capacity at every instant, under a lock on the resource.';
COMMENT ON FUNCTION booking_internal.bookings_record_transition() IS 'Trigger: records each status change in booking_transitions.';
COMMENT ON FUNCTION booking_internal.resources_capacity_changed() IS 'Trigger: capacity cannot shrink below the seats held.';
COMMENT ON FUNCTION booking_internal.audit_row_change() IS 'Trigger: writes audit_log rows for inserts, updates (changed columns only) and deletes.';
COMMENT ON FUNCTION booking_internal.audit_log_append_only() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on audit_log with 42501.';

COMMENT ON FUNCTION booking.set_booking_status(uuid, text, text) IS 'Moves a booking along the legal transitions for the caller (bookers: submit, resubmit, cancel until the start; staff and admins: every legal change), with a reason; PT409 for an illegal change or a booking that no longer fits, 42501 without the right, 22023 for bad input or an unknown booking.';
COMMENT ON FUNCTION booking_internal.bookings_notify() IS 'Trigger: notifies the booker of each status change, and the organization''s staff of each new pending request, in the same transaction.';
COMMENT ON FUNCTION booking_internal.lock_service_rules(uuid) IS 'Internal: locks a service''s rules row for the rest of the transaction (once per transaction, as lock_resource) so that bookers of a service with a concurrency limit take turns.';
COMMENT ON FUNCTION booking_internal.lock_resource(uuid) IS 'Internal: locks a resource row for the rest of the transaction (a no-op update, skipped when the row version seen was written by this transaction) so that its writers take turns; returns its capacity.';

COMMENT ON FUNCTION booking.send_notification(text, text, text, jsonb) IS 'Sends a notification (seed 004) and returns it as JSON (id, recipient_id, organization_id, message, notification_type, metadata, read_at, sent_at). Owners, admins and staff to active members of their organization (p_metadata.organization_id picks one when several are shared), service_role to anyone. 22023 for an empty recipient, message or type; 42501 otherwise refused.';
COMMENT ON FUNCTION booking.mark_notifications_read(text, uuid[]) IS 'Marks the caller''s unread notifications read (all, or the ids given, at most 1000) and returns how many changed. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_unread_count(text) IS 'The caller''s unread notifications. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_unread_counts(text) IS 'The caller''s unread notifications per notification_type. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_notifications_page(text, integer, integer) IS 'A page of the caller''s notifications, newest first; p_limit 1 to 100 (default 20), p_offset from 0. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking_internal.notification_owner(text) IS 'Internal: whose notifications a call is about: the JWT subject, or for service_role the p_user_id given; 42501 for anyone else''s.';
COMMENT ON FUNCTION booking_internal.check_text_argument(text, text, integer) IS 'Internal: raises 22023 when a text argument is NULL, blank or longer than the limit; returns it otherwise.';
COMMENT ON FUNCTION booking_internal.check_json_object(text, jsonb) IS 'Internal: raises 22023 when a jsonb argument is not an object or is larger than 16 kB; NULL passes.';
COMMENT ON FUNCTION booking_internal.calling_role() IS 'Internal: the role that called a SECURITY DEFINER function (the SET ROLE in force, else the login role).';
COMMENT ON FUNCTION booking.log_action(text, uuid, text, jsonb, jsonb, text) IS 'Records an action in the audit log (seed 004) and returns its id; the actor is the JWT subject and the organization the entity''s. Staff of the entity''s organization, the booker of a booking, or service_role. 22023 for bad input, 42501 otherwise refused.';
COMMENT ON FUNCTION booking_internal.require_privileged(text) IS 'Internal: raises 42501 unless the role running the statement bypasses row-level security (service_role).';
COMMENT ON FUNCTION booking.claim_outbox(text, integer, integer) IS 'service_role: claims up to p_limit (1-1000) due outbox events, optionally of one topic, for a lease of p_lease_seconds (1-3600); concurrent callers never get the same row (SKIP LOCKED); unacknowledged rows come back after the lease.';
COMMENT ON FUNCTION booking.ack_outbox(bigint[]) IS 'service_role: marks outbox events delivered (at most 10000 ids); returns how many.';
COMMENT ON FUNCTION booking.fail_outbox(bigint, text) IS 'service_role: records a failed delivery and schedules the retry after 30 s doubling per attempt, at most an hour; 22023 for an unknown or delivered event.';
COMMENT ON FUNCTION booking.detect_conflicts(uuid, timestamptz, timestamptz) IS 'Finds double bookings, seats above capacity, bookings outside opening hours and time-zone mismatches of an organization in a window (at most 366 days) and records each once; returns every conflict found. Staff of the organization or service_role.';
COMMENT ON FUNCTION booking.resolve_conflict(uuid, text, text) IS 'Sets a conflict''s status (resolved and ignored need a resolution and record who and when; investigating; open again). Staff of the organization or service_role.';

-- Privileges: no function of the two schemas is executable by PUBLIC; grant_api_privileges()
-- grants each to the API roles that should call it (its lists say which), now and whenever
-- create_api_roles() runs later.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA booking, booking_internal FROM PUBLIC;
SELECT booking.grant_api_privileges();

-- The native scheduling functions run their few queries through plans kept for the session
-- (SPI_keepplan). A custom plan per call would re-plan them every time, which costs more than
-- the engine's work; their generic plans are as good (index scans keyed by resource and time).
-- Those plans are made once, often while the tables are still small, where a sequential scan
-- looks cheapest; but each query reads a few rows per resource, repeated for every resource of
-- a pool, so index scans are always the right plan: enable_seqscan = off says so. The settings
-- apply inside these functions only, with their search_path.
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'booking'::regnamespace
             AND p.proname IN ('get_available_slots', 'get_available_slots_any', 'find_next_slot',
                               'can_book_resource', 'booking_refusal', 'open_periods') LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
  END LOOP;
END $$;
COMMENT ON FUNCTION booking_internal.booker_may_insert(uuid, text) IS 'Internal: may a caller who is not staff create a booking in this organization for this person (themselves, in an organization they belong to or that is public)? Used by the bookings insert policy and bookings_guard.';
COMMENT ON FUNCTION booking_internal.organization_is_fixed() IS 'Trigger: refuses (42501) an UPDATE that moves a row to another organization, for every caller.';
COMMENT ON FUNCTION booking_internal.booking_services_from_service() IS 'Trigger: a line item written by a booker takes its price and duration from the service.';
COMMENT ON FUNCTION booking_internal.written_by_this_transaction(xid) IS 'Internal: true when a row version (its xmin) was written by this transaction or a live subtransaction of it; the row locks use it to take each lock once.';
COMMENT ON FUNCTION booking_internal.enforce_booking_rules(uuid, uuid, uuid, timestamptz, timestamptz, integer, uuid) IS 'Internal: the rule book (staff-only service, length, opening hours, notice, horizon, the service''s concurrency limit, and for a new booking overlap and capacity) that bookings_guard applies to direct writes by non-staff and book() to every caller; 42501 or PT409 with the reason in DETAIL; returns whether the booking is approved on submission.';
COMMENT ON FUNCTION booking_internal.refusal_message(text) IS 'Internal: the sentence a person reads for a refusal reason of the rule book.';
COMMENT ON COLUMN booking.resources.max_booking_minutes IS 'The longest booking someone who is not the organization''s staff may make (book() and the table alike); default a week, at most 366 days.';
COMMENT ON TABLE booking.booking_notes IS 'Staff''s notes on a booking (one row per booking): readable and writable by the organization''s owners, admins and staff and by service_role only; the person who booked never sees them.';
COMMENT ON FUNCTION booking_internal.may_book_in(uuid) IS 'Internal: may the caller book in this organization at all (it is public, or they are an active member)?';
COMMENT ON FUNCTION booking_internal.has_membership(uuid, text[]) IS 'Internal: is the caller an active member of the organization, with one of the roles given (any when NULL)? One probe of the members key; is_member, is_staff, is_admin and may_book_in ask it.';
COMMENT ON FUNCTION booking_internal.has_staff_rights(uuid) IS 'Internal: does the caller have staff rights in the organization (its owners, admins and staff, or a role that bypasses row-level security)?';
