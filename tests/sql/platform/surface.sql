-- The function surface of schemas booking (the API) and booking_internal (triggers, locks,
-- aggregate support and the helpers that code running as the caller needs; not exposed by
-- PostgREST), so that a new or changed function cannot slip past review:
-- PUBLIC executes nothing, every SECURITY DEFINER function pins its search_path, no name is
-- overloaded or in both schemas (PostgREST could not pick one), booking holds nothing an API
-- role cannot call but the grant functions, and who may execute each function, and which run
-- as the owner, is exactly the
-- matrix below (booking_internal's functions by qualified name). A function added to either
-- schema fails this test until it is placed in the matrix, with its grants in its module's
-- booking_internal.grant_<module>_privileges().
CREATE TEMP TABLE expected_surface (name text PRIMARY KEY, executors text, security_definer boolean);
INSERT INTO expected_surface VALUES
    -- booking: the API (and the grant functions administrators call)
    ('ack_outbox', 'service_role', false),
    ('accept_offer', 'authenticated,service_role', false),
    ('advance_waitlists', 'service_role', true),
    ('cancel_registration', 'authenticated,service_role', false),
    ('check_in', 'authenticated,service_role', false),
    ('create_session', 'authenticated,service_role', false),
    ('mark_no_shows', 'authenticated,service_role', true),
    ('register_for_session', 'authenticated,service_role', false),
    ('waitlist_position', 'authenticated,service_role', true),
    ('book', 'authenticated', true),
    ('book_series', 'authenticated', true),
    ('cancel_occurrence', 'authenticated,service_role', true),
    ('cancel_series', 'authenticated,service_role', true),
    ('move_occurrence', 'authenticated,service_role', true),
    ('preview_series', 'anon,authenticated,service_role', true),
    ('restore_occurrence', 'authenticated,service_role', true),
    ('update_series_from', 'authenticated,service_role', true),
    ('assign_staff', 'authenticated,service_role', false),
    ('expire_credits', 'service_role', true),
    ('get_credit_balance', 'authenticated,service_role', true),
    ('get_credit_statement', 'authenticated,service_role', true),
    ('purchase_credits', 'authenticated,service_role', true),
    ('admission_transitions', 'anon,authenticated,service_role', false),
    ('refresh_calendar_busy', 'service_role', true),
    ('report_sync_result', 'service_role', true),
    ('upsert_calendar_events', 'service_role', true),
    ('import_ics', 'authenticated,service_role', true),
    ('resource_calendar_ics', 'anon,authenticated,service_role', true),
    ('submit_external_request', 'authenticated,service_role', true),
    ('process_external_request', 'authenticated,service_role', true),
    ('booking_internal.booking_request_fields', '', false),
    ('booking_internal.bookings_external_request_guard', '', true),
    ('booking_internal.bookings_external_request_deleted', '', true),
    ('booking_internal.bookings_approval_fields', '', true),
    ('booking_internal.check_booking_restrictions', 'authenticated,service_role', false),
    ('booking_internal.check_organization_settings', 'authenticated,service_role', false),
    ('booking_internal.enqueue_request_event', '', true),
    ('booking_internal.external_requests_check_assignee', '', true),
    ('booking_internal.grant_intake_privileges', '', false),
    ('booking_internal.json_number', '', false),
    ('booking_internal.max_request_attachments', '', false),
    ('booking_internal.request_attachments_guard', '', true),
    ('generate_digest', 'authenticated,service_role', true),
    ('annotate_digest', 'service_role', true),
    ('booking_internal.count_phrase', '', false),
    ('booking_internal.digest_content', '', true),
    ('booking_internal.digest_summary', '', false),
    ('booking_internal.grant_digests_privileges', '', false),
    ('booking_internal.max_digest_days', '', false),
    ('booking_internal.resource_calendar_ics_text', '', true),
    ('booking_internal.apply_calendar_events', '', true),
    ('booking_internal.bookings_calendar_event_linked', '', true),
    ('booking_internal.recurrence_date', '', false),
    ('booking_internal.bookings_calendar_push', '', true),
    ('booking_internal.calendar_delivery_limits', '', false),
    ('booking_internal.calendar_horizon_days', '', false),
    ('booking_internal.calendar_integrations_guard', '', true),
    ('booking_internal.calendar_integrations_rezone', '', true),
    ('booking_internal.grant_calendars_privileges', '', false),
    ('notification_template_keys', 'anon,authenticated,service_role', false),
    ('render_template', 'authenticated,service_role', false),
    ('booking_internal.fill_template', 'authenticated,service_role', false),
    ('booking_internal.template_placeholders', 'authenticated,service_role', false),
    ('booking_internal.notification_templates_check', '', false),
    ('booking_internal.render_notification', '', false),
    ('booking_internal.grant_templates_privileges', '', false),
    ('track_event', 'anon,authenticated,service_role', true),
    ('prune_analytics', 'service_role', true),
    ('booking_internal.analytics_partition', '', true),
    ('booking_internal.forwarded_address', '', false),
    ('booking_internal.inet_or_null', '', false),
    ('booking_internal.organizations_delete_analytics', '', true),
    ('booking_internal.grant_analytics_privileges', '', false),
    ('booking_internal.materialize_calendar_event', '', true),
    ('booking_internal.is_own_booking_copy', '', false),
    ('delete_thread', 'authenticated', true),
    ('get_threads_page', 'authenticated', false),
    ('mark_thread_read', 'authenticated', true),
    ('send_message', 'authenticated', true),
    ('start_thread', 'authenticated', true),
    ('booking_internal.grant_engagement_privileges', '', false),
    ('booking_internal.lock_my_thread', '', true),
    ('booking_internal.messages_edit', '', false),
    ('booking_internal.performs_services', 'authenticated,service_role', true),
    ('booking_internal.post_message', '', true),
    ('booking_internal.preference_flag', 'authenticated,service_role', false),
    ('booking_internal.preference_minutes', 'authenticated,service_role', false),
    ('booking_internal.reviews_guard', '', true),
    ('booking_internal.thread_organization', '', true),
    ('set_admission_state', 'authenticated,service_role', false),
    ('booking_internal.check_professional_takes_client', 'authenticated,service_role', true),
    ('booking_internal.grant_people_privileges', '', false),
    ('booking_internal.is_active_member', 'authenticated,service_role', true),
    ('booking_internal.is_guardian_of', 'authenticated,service_role', true),
    ('booking_internal.manages_bookings', 'authenticated,service_role', true),
    ('booking_internal.my_professional_resource_ids', 'authenticated,service_role', true),
    ('booking_internal.my_student_ids', 'authenticated,service_role', true),
    ('booking_internal.student_booked_on', 'authenticated,service_role', true),
    ('booking_internal.professionals_guard', '', true),
    ('booking_internal.professionals_sync_resource', '', true),
    ('booking_internal.resources_professional_settings', '', true),
    ('booking_internal.students_guard', '', false),
    ('booking_internal.students_log_admission', '', true),
    ('booking_internal.bookings_credit_fixed', '', false),
    ('booking_internal.bookings_debit_credit', '', true),
    ('booking_internal.bookings_refund_credit', '', true),
    ('booking_internal.credit_organization', '', true),
    ('booking_internal.grant_credits_privileges', '', false),
    ('booking_internal.lock_credit_account', '', true),
    ('booking_internal.post_credit', '', true),
    ('assignment_status', 'authenticated,service_role', false),
    ('checkout_kit', 'authenticated,service_role', false),
    ('close_overdue', 'service_role', false),
    ('event_state_machines', 'authenticated,service_role', false),
    ('generate_event', 'authenticated,service_role', true),
    ('report_event_issue', 'authenticated,service_role', false),
    ('resolve_event_issue', 'authenticated,service_role', false),
    ('respond_to_assignment', 'authenticated,service_role', false),
    ('return_kit', 'authenticated,service_role', false),
    ('set_event_status', 'authenticated,service_role', false),
    ('staff_check_in', 'authenticated,service_role', false),
    ('staff_check_out', 'authenticated,service_role', false),
    ('booking_internal.append_only', '', false),
    ('booking_internal.bookings_event_columns', '', true),
    ('booking_internal.bookings_generate_events', '', true),
    ('booking_internal.check_event_transition', 'authenticated,service_role', false),
    ('booking_internal.event_instances_after', '', true),
    ('booking_internal.event_instances_guard', '', true),
    ('booking_internal.event_of_row', '', true),
    ('booking_internal.event_team_members_guard', '', true),
    ('booking_internal.activities_guard', '', true),
    ('booking_internal.staff_assignments_guard', '', true),
    ('booking_internal.activity_kits_guard', '', true),
    ('booking_internal.event_issues_guard', '', true),
    ('booking_internal.activities_log', '', true),
    ('booking_internal.staff_assignments_log', '', true),
    ('booking_internal.activity_kits_log', '', true),
    ('booking_internal.event_issues_reported', '', true),
    ('booking_internal.event_rows_insert_right', '', true),
    ('booking_internal.grant_events_privileges', '', false),
    ('booking_internal.log_event_transition', '', true),
    ('booking_internal.my_event_ids', 'authenticated,service_role', true),
    ('booking_internal.set_reason', 'authenticated,service_role', false),
    ('booking_internal.assignment_unchanged', 'authenticated,service_role', false),
    ('booking_internal.kit_unchanged', 'authenticated,service_role', false),
    ('booking_internal.event_instances_deleted', '', true),
    ('booking_refusal', 'anon,authenticated,service_role', true),
    ('booking_statuses', 'anon,authenticated,service_role', false),
    ('busy_minutes', 'anon,authenticated,service_role', false),
    ('busy_union', 'anon,authenticated,service_role', false),
    ('calculate_business_hours', 'anon,authenticated,service_role', false),
    ('calculate_duration_minutes', 'anon,authenticated,service_role', false),
    ('can_book_resource', 'anon,authenticated,service_role', true),
    ('claim_outbox', 'service_role', false),
    ('create_api_roles', '', false),
    ('current_role', 'anon,authenticated,service_role', false),
    ('current_user_id', 'anon,authenticated,service_role', false),
    ('detect_conflicts', 'authenticated,service_role', false),
    ('fail_outbox', 'service_role', false),
    ('find_next_slot', 'anon,authenticated,service_role', true),
    ('get_available_slots', 'anon,authenticated,service_role', true),
    ('get_available_slots_any', 'anon,authenticated,service_role', true),
    ('get_notifications_page', 'authenticated,service_role', false),
    ('get_unread_count', 'authenticated,service_role', false),
    ('get_unread_counts', 'authenticated,service_role', false),
    ('grant_api_privileges', '', false),
    ('is_admin', 'anon,authenticated,service_role', true),
    ('is_member', 'anon,authenticated,service_role', true),
    ('is_staff', 'anon,authenticated,service_role', true),
    ('is_valid_time_zone', 'anon,authenticated,service_role', false),
    ('log_action', 'authenticated,service_role', true),
    ('mark_notifications_read', 'authenticated,service_role', false),
    ('open_periods', 'anon,authenticated,service_role', true),
    ('peak_seats', 'anon,authenticated,service_role', false),
    ('public_organization_ids', 'anon,authenticated,service_role', true),
    ('rating_summary', 'anon,authenticated,service_role', false),
    ('resolve_conflict', 'authenticated,service_role', false),
    ('send_notification', 'authenticated,service_role', false),
    ('set_booking_status', 'authenticated,service_role', false),
    ('status_transitions', 'anon,authenticated,service_role', false),
    ('transition_allowed', 'anon,authenticated,service_role', false),
    ('user_organization_ids', 'anon,authenticated,service_role', true),
    ('utilization', 'anon,authenticated,service_role', false),
    -- booking_internal
    ('booking_internal.actor_id', 'authenticated,service_role', false),
    ('booking_internal.bookings_follow_workshop_session', '', true),
    ('booking_internal.bookings_series_guard', '', true),
    ('booking_internal.fill_session', '', true),
    ('booking_internal.grant_workshops_privileges', '', false),
    ('booking_internal.lock_session_of_registration', 'authenticated,service_role', true),
    ('booking_internal.lock_workshop_session', '', true),
    ('booking_internal.notify_registrant', '', true),
    ('booking_internal.refuse_registration', 'authenticated,service_role', false),
    ('booking_internal.registration_holds_seats', '', false),
    ('booking_internal.session_facts', '', true),
    ('booking_internal.session_seats_held', '', true),
    ('booking_internal.workshop_registrations_after', '', true),
    ('booking_internal.workshop_registrations_deleted', '', true),
    ('booking_internal.workshop_registrations_guard', '', true),
    ('booking_internal.workshop_sessions_capacity_raised', '', true),
    ('booking_internal.workshop_sessions_guard', '', true),
    ('booking_internal.workshops_cancelled', '', true),
    ('booking_internal.book_occurrence', '', false),
    ('booking_internal.create_series', '', false),
    ('booking_internal.expand_series', '', false),
    ('booking_internal.grant_series_privileges', '', false),
    ('booking_internal.occurrence_for_caller', '', false),
    ('booking_internal.series_caller', '', false),
    ('booking_internal.series_pattern', '', false),
    ('booking_internal.create_staff_write_policies', '', false),
    ('booking_internal.grant_audit_privileges', '', false),
    ('booking_internal.grant_availability_privileges', '', false),
    ('booking_internal.grant_bookings_privileges', '', false),
    ('booking_internal.grant_conflicts_privileges', '', false),
    ('booking_internal.grant_execute', '', false),
    ('booking_internal.grant_notifications_privileges', '', false),
    ('booking_internal.grant_outbox_privileges', '', false),
    ('booking_internal.grant_platform_privileges', '', false),
    ('booking_internal.grant_reporting_privileges', '', false),
    ('booking_internal.grant_resources_privileges', '', false),
    ('booking_internal.grant_services_privileges', '', false),
    ('booking_internal.grant_tenancy_privileges', '', false),
    ('booking_internal.holds_time', 'anon,authenticated,service_role', false),
    ('booking_internal.register_table', '', false),
    ('booking_internal.resource_is_visible', 'anon,authenticated,service_role', false),
    ('booking_internal.audit_row_change', '', true),
    ('booking_internal.bookings_enforce_capacity', '', true),
    ('booking_internal.bookings_enqueue_outbox', '', true),
    ('booking_internal.bookings_guard', '', false),
    ('booking_internal.bookings_notify', '', true),
    ('booking_internal.bookings_record_transition', '', true),
    ('booking_internal.busy_minutes_final', '', false),
    ('booking_internal.busy_minutes_moving_final', '', false),
    ('booking_internal.busy_time_combine', '', false),
    ('booking_internal.busy_time_deserialize', '', false),
    ('booking_internal.busy_time_moving_inverse', '', false),
    ('booking_internal.busy_time_moving_trans', '', false),
    ('booking_internal.busy_time_serialize', '', false),
    ('booking_internal.busy_time_trans', '', false),
    ('booking_internal.busy_union_final', '', false),
    ('booking_internal.busy_union_moving_final', '', false),
    ('booking_internal.booker_may_insert', 'authenticated,service_role', false),
    ('booking_internal.may_book_in', 'authenticated,service_role', true),
    ('booking_internal.booking_services_from_service', '', false),
    ('booking_internal.calling_role', '', false),
    ('booking_internal.check_json_object', 'authenticated,service_role', false),
    ('booking_internal.check_text_argument', 'authenticated,service_role', false),
    ('booking_internal.check_time_zone', '', false),
    ('booking_internal.enforce_booking_rules', 'authenticated,service_role', true),
    ('booking_internal.has_membership', '', true),
    ('booking_internal.has_staff_rights', 'authenticated,service_role', false),
    ('booking_internal.held_seats_peak', '', false),
    ('booking_internal.is_bulk_load', 'authenticated,service_role', false),
    ('booking_internal.is_privileged', 'authenticated,service_role', false),
    ('booking_internal.lock_resource', '', true),
    ('booking_internal.lock_service_rules', '', true),
    ('booking_internal.notification_owner', 'authenticated,service_role', false),
    ('booking_internal.organization_is_fixed', '', false),
    ('booking_internal.peak_seats_combine', '', false),
    ('booking_internal.peak_seats_deserialize', '', false),
    ('booking_internal.peak_seats_final', '', false),
    ('booking_internal.peak_seats_moving_final', '', false),
    ('booking_internal.peak_seats_moving_inverse', '', false),
    ('booking_internal.peak_seats_moving_trans', '', false),
    ('booking_internal.peak_seats_serialize', '', false),
    ('booking_internal.peak_seats_trans', '', false),
    ('booking_internal.rating_summary_combine', '', false),
    ('booking_internal.rating_summary_deserialize', '', false),
    ('booking_internal.rating_summary_final', '', false),
    ('booking_internal.rating_summary_inverse', '', false),
    ('booking_internal.rating_summary_serialize', '', false),
    ('booking_internal.rating_summary_trans', '', false),
    ('booking_internal.refusal_message', '', false),
    ('booking_internal.require_privileged', 'service_role', false),
    ('booking_internal.resources_capacity_changed', '', true),
    ('booking_internal.touch_updated_at', '', false),
    ('booking_internal.utilization_combine', '', false),
    ('booking_internal.utilization_deserialize', '', false),
    ('booking_internal.utilization_final', '', false),
    ('booking_internal.utilization_inverse', '', false),
    ('booking_internal.utilization_serialize', '', false),
    ('booking_internal.utilization_trans', '', false),
    ('booking_internal.written_by_this_transaction', '', false);

DO $$
DECLARE
  v_bad text[];
BEGIN
  SELECT array_agg(p.oid::regprocedure::text) INTO v_bad
  FROM pg_proc p
  WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
    AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'));
  PERFORM pg_temp.check(v_bad IS NULL, format('executable by PUBLIC: %s', v_bad));

  SELECT array_agg(p.oid::regprocedure::text) INTO v_bad
  FROM pg_proc p
  WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace) AND p.prosecdef
    AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) cfg WHERE cfg LIKE 'search_path=%');
  PERFORM pg_temp.check(v_bad IS NULL, format('SECURITY DEFINER without a pinned search_path: %s', v_bad));

  SELECT array_agg(p.proname) INTO v_bad
  FROM pg_proc p WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
  GROUP BY p.proname HAVING count(*) > 1;
  PERFORM pg_temp.check(v_bad IS NULL, format('overloaded names: %s', v_bad));

  -- What PostgREST shows of booking is the API: internals belong in booking_internal.
  SELECT array_agg(p.proname ORDER BY p.proname) INTO v_bad
  FROM pg_proc p
  WHERE p.pronamespace = 'booking'::regnamespace
    AND p.proname NOT IN ('create_api_roles', 'grant_api_privileges')
    AND NOT (has_function_privilege('anon', p.oid, 'EXECUTE') OR has_function_privilege('authenticated', p.oid, 'EXECUTE')
             OR has_function_privilege('service_role', p.oid, 'EXECUTE'));
  PERFORM pg_temp.check(v_bad IS NULL, format('in schema booking but no API role may call it: %s', v_bad));

  SELECT array_agg(coalesce(p.name, e.name) || ': ' ||
                   CASE WHEN p.oid IS NULL THEN 'expected but missing'
                        WHEN e.name IS NULL THEN 'not in the expected surface'
                        ELSE format('executors %s, definer %s (expected %s, %s)', a.executors, p.prosecdef, e.executors, e.security_definer) END
                   ORDER BY coalesce(p.name, e.name)) INTO v_bad
  FROM (SELECT pg_proc.*, CASE WHEN pronamespace = 'booking'::regnamespace THEN proname::text
                               ELSE 'booking_internal.' || proname END AS name
        FROM pg_proc WHERE pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)) p
  FULL JOIN expected_surface e ON e.name = p.name
  LEFT JOIN LATERAL (
    SELECT concat_ws(',', CASE WHEN has_function_privilege('anon', p.oid, 'EXECUTE') THEN 'anon' END,
                          CASE WHEN has_function_privilege('authenticated', p.oid, 'EXECUTE') THEN 'authenticated' END,
                          CASE WHEN has_function_privilege('service_role', p.oid, 'EXECUTE') THEN 'service_role' END) AS executors
  ) a ON p.oid IS NOT NULL
  WHERE p.oid IS NULL OR e.name IS NULL OR a.executors <> e.executors OR p.prosecdef <> e.security_definer;
  PERFORM pg_temp.check(v_bad IS NULL, format('the function surface drifted: %s', v_bad));

  -- booking_internal is not exposed by PostgREST; anon never needs it.
  PERFORM pg_temp.check(NOT has_schema_privilege('anon', 'booking_internal', 'USAGE')
                        AND has_schema_privilege('authenticated', 'booking_internal', 'USAGE')
                        AND has_schema_privilege('service_role', 'booking_internal', 'USAGE'),
                        'USAGE on booking_internal: authenticated and service_role only');
  -- Besides functions, booking_internal holds the table registry (with its key and sequence),
  -- which no API role may touch (rls_matrix.sql checks that), the sequence of the workshops'
  -- waiting lines, and the turns of calendar deliveries (with its key); and the monthly
  -- partitions of analytics_events with their indexes, made at run time (analytics.sql).
  PERFORM pg_temp.check((SELECT array_agg(relname::text ORDER BY relname) FROM pg_class
                         WHERE relnamespace = 'booking_internal'::regnamespace
                           AND relname !~ '^analytics_events_p[0-9]{4}_[0-9]{2}(_[a-z_]+)?$')
                        = ARRAY['calendar_delivery_turns', 'calendar_delivery_turns_pkey',
                                'registered_tables', 'registered_tables_entity_type_key',
                                'registered_tables_pkey', 'registered_tables_position_seq',
                                'workshop_queue_numbers'],
                        'booking_internal holds functions, the table registry, the workshops'' queue numbers and the calendar delivery turns only');
END $$;
