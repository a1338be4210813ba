//! pg_dump of a database with booking_ext and data, restored into a fresh database: zero errors,
//! identical rows in every table, identical policies and grants, and the rules still enforced.

#[path = "../common/mod.rs"]
mod common;

use common::{as_persona, sqlstate, Cluster, TENANTS_SQL};

/// The tables of schema booking, sorted: the snapshot covers each one, so a table a module adds
/// later is covered without touching this test. Every one of them must be registered by its
/// module (booking_internal.registered_tables, and only those are) and marked for pg_dump
/// (pg_extension_config_dump), or its rows would not survive the dump.
fn booking_tables(c: &mut postgres::Client) -> Vec<String> {
    let mut names = |sql: &str| -> Vec<String> {
        let mut v: Vec<String> = c
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        v.sort();
        v
    };
    let tables = names(
        "SELECT relname::text FROM pg_class
         WHERE relnamespace = 'booking'::regnamespace AND relkind IN ('r', 'p')",
    );
    let registered = names("SELECT table_name FROM booking_internal.registered_tables");
    let not_dumped = names(
        "SELECT c.relname::text FROM pg_class c
         WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT c.oid = ANY ((SELECT e.extconfig FROM pg_extension e WHERE e.extname = 'booking_ext')::oid[])",
    );
    assert!(!tables.is_empty(), "schema booking has no tables");
    assert_eq!(
        tables, registered,
        "the tables of schema booking and booking_internal.registered_tables differ"
    );
    assert!(
        not_dumped.is_empty(),
        "tables of schema booking whose rows pg_dump leaves out: {not_dumped:?}"
    );
    tables
}

/// (table, row count, digest of all rows) for every table of schema booking, read as a superuser.
fn snapshot(c: &mut postgres::Client) -> Vec<(String, i64, String)> {
    booking_tables(c)
        .into_iter()
        .map(|t| {
            let row = c
                .query_one(
                    &format!("SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM booking.\"{t}\" x"),
                    &[],
                )
                .unwrap();
            (t, row.get(0), row.get(1))
        })
        .collect()
}

fn policies_and_grants(c: &mut postgres::Client) -> (String, String) {
    let policies: String = c
        .query_one(
            "SELECT string_agg(format('%s.%s %s %s USING %s CHECK %s', tablename, policyname, cmd, roles, qual, with_check), E'\\n'
                               ORDER BY tablename, policyname)
             FROM pg_policies WHERE schemaname = 'booking'",
            &[],
        )
        .unwrap()
        .get(0);
    let grants: String = c
        .query_one(
            "SELECT string_agg(grant_line, E'\\n' ORDER BY grant_line) FROM (
               SELECT format('table %s %s', relname, relacl) AS grant_line
               FROM pg_class WHERE relnamespace = 'booking'::regnamespace AND relkind = 'r'
               UNION ALL
               SELECT format('schema %s %s', nspname, nspacl)
               FROM pg_namespace WHERE nspname IN ('booking', 'booking_internal')
               UNION ALL
               SELECT format('function %s %s', oid::regprocedure, proacl)
               FROM pg_proc WHERE pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)) g",
            &[],
        )
        .unwrap()
        .get(0);
    (policies, grants)
}

/// Runs `sql` in one transaction as the signed-in user `sub`, as PostgREST runs a request.
fn as_user(c: &mut postgres::Client, sub: &str, sql: &str) {
    let mut tx = c.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some(sub));
    tx.batch_execute(sql)
        .unwrap_or_else(|e| panic!("as {sub}: {e:?}\n{sql}"));
    tx.commit().unwrap();
}

/// A database with rows in every table, written through the API paths (RPCs and direct writes
/// as the JWT users of the fixtures), so that the rows the triggers derive (transitions, logs,
/// audit, outbox, notifications, the credit ledger) are there too: the restore must bring all
/// of them back as they were, and derive none of them again.
fn populated_source(cluster: &Cluster) -> postgres::Client {
    let mut c = cluster.create_db("src", true);
    c.batch_execute(TENANTS_SQL).unwrap();
    // Activity through the API path, so transitions and audit rows carry JWT actors.
    as_user(
        &mut c,
        "u-staff",
        "SELECT set_config('booking.reason', 'approved at the desk', true);
         UPDATE booking.bookings SET status = 'approved' WHERE id = '00000000-0000-4000-a000-000000000401';
         UPDATE booking.bookings SET status = 'completed' WHERE id = '00000000-0000-4000-a000-000000000402';",
    );

    // Workshops: staff publish a workshop and create a session (which books the Digital Lab);
    // the client registers for it.
    as_user(
        &mut c,
        "u-staff",
        "INSERT INTO booking.workshops (id, organization_id, title, default_resource_id, capacity, status) VALUES
           ('00000000-0000-4000-a000-000000000901', '00000000-0000-4000-a000-000000000001', 'Intro to 3D printing',
            '00000000-0000-4000-a000-000000000103', 3, 'published');
         SELECT booking.create_session('00000000-0000-4000-a000-000000000901',
                                       '2031-01-14 10:00 America/New_York', '2031-01-14 12:00 America/New_York');",
    );
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.register_for_session((SELECT id FROM booking.workshop_sessions
                                              WHERE workshop_id = '00000000-0000-4000-a000-000000000901'));",
    );

    // Series: the client books two weekly VR sessions.
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.book_series('00000000-0000-4000-a000-000000000101', '2031-02-03 10:00 America/New_York',
                                    '2031-02-03 11:00 America/New_York', 'FREQ=WEEKLY;COUNT=2', 'Weekly VR practice');",
    );

    // Events: the Digital Lab's approved bookings become events; staff set up a place and a
    // kit. The client's booking generates its event (and its first state).
    as_user(
        &mut c,
        "u-staff",
        "UPDATE booking.resources SET generates_events = true WHERE id = '00000000-0000-4000-a000-000000000103';
         INSERT INTO booking.locations (id, organization_id, name) VALUES
           ('00000000-0000-4000-a000-000000000961', '00000000-0000-4000-a000-000000000001', 'Main hall');
         INSERT INTO booking.kit_templates (id, organization_id, name) VALUES
           ('00000000-0000-4000-a000-000000000962', '00000000-0000-4000-a000-000000000001', 'Sound kit');
         INSERT INTO booking.kit_instances (id, organization_id, template_id, serial_number) VALUES
           ('00000000-0000-4000-a000-000000000963', '00000000-0000-4000-a000-000000000001',
            '00000000-0000-4000-a000-000000000962', 'SK-1');",
    );
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.book('00000000-0000-4000-a000-000000000103', '2031-03-03 10:00 America/New_York',
                             '2031-03-03 12:00 America/New_York', 1, NULL, 'Launch party');",
    );
    let event: String = c
        .query_one(
            "SELECT e.id::text FROM booking.event_instances e JOIN booking.bookings b ON b.id = e.booking_id
             WHERE b.title = 'Launch party'",
            &[],
        )
        .expect("approving a booking of the Digital Lab generates its event")
        .get(0);
    // Staff prepare it: a place, its field manager and team, an assignment, an activity and the
    // kit it needs, and its preparation starts (each change of state logged).
    as_user(
        &mut c,
        "u-staff",
        &format!(
            "UPDATE booking.event_instances SET location_id = '00000000-0000-4000-a000-000000000961', field_manager_id = 'u-member'
             WHERE id = '{event}';
             INSERT INTO booking.event_team_members (organization_id, event_instance_id, user_id, role) VALUES
               ('00000000-0000-4000-a000-000000000001', '{event}', 'u-member', 'runner');
             SELECT booking.assign_staff('{event}', 'u-member', 'host');
             INSERT INTO booking.activities (id, organization_id, event_instance_id, title, kit_template_id) VALUES
               ('00000000-0000-4000-a000-000000000966', '00000000-0000-4000-a000-000000000001', '{event}', 'DJ set',
                '00000000-0000-4000-a000-000000000962');
             INSERT INTO booking.activity_kits (id, organization_id, activity_id, kit_template_id, kit_instance_id, status) VALUES
               ('00000000-0000-4000-a000-000000000967', '00000000-0000-4000-a000-000000000001',
                '00000000-0000-4000-a000-000000000966', '00000000-0000-4000-a000-000000000962',
                '00000000-0000-4000-a000-000000000963', 'assigned');
             SELECT booking.set_event_status('{event}', 'preparation', 'setting up the hall');"
        ),
    );
    // The member accepts the assignment, takes the kit out and reports a problem.
    as_user(
        &mut c,
        "u-member",
        &format!(
            "SELECT booking.respond_to_assignment((SELECT id FROM booking.staff_assignments
                                                   WHERE event_instance_id = '{event}' AND user_id = 'u-member'), true);
             SELECT booking.checkout_kit('00000000-0000-4000-a000-000000000967');
             SELECT booking.report_event_issue('{event}', 'equipment', 'Hum in the left speaker', 'low');"
        ),
    );

    // Credits: the admin sets the lab's refund policy; staff sell the client five credits; the
    // client books twice with them and cancels one booking (a debit each, one refund).
    as_user(
        &mut c,
        "u-admin",
        "INSERT INTO booking.credit_policies (organization_id, refund_deadline_minutes)
         VALUES ('00000000-0000-4000-a000-000000000001', 720);",
    );
    as_user(
        &mut c,
        "u-staff",
        "SELECT booking.purchase_credits('u-client', 5, 'pay-1', NULL, NULL, 'card');",
    );
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.book('00000000-0000-4000-a000-000000000101', '2031-03-04 10:00 America/New_York',
                             '2031-03-04 11:00 America/New_York', p_title => 'Paid VR session', p_use_credit => true);
         SELECT booking.book('00000000-0000-4000-a000-000000000101', '2031-03-05 10:00 America/New_York',
                             '2031-03-05 11:00 America/New_York', p_title => 'Paid VR session, cancelled',
                             p_use_credit => true);
         SELECT booking.set_booking_status((SELECT id FROM booking.bookings WHERE title = 'Paid VR session, cancelled'),
                                           'cancelled', 'cannot make it');",
    );

    // People: the client's profile, and their child registered as a prospect and moved along
    // the admission lifecycle (by the guardian, then staff); staff make u-member the
    // professional of a person resource; the client books the professional for the student,
    // and the professional approves it.
    as_user(
        &mut c,
        "u-client",
        "INSERT INTO booking.profiles (display_name, email) VALUES ('Cleo', 'cleo@example.org');
         INSERT INTO booking.students (id, organization_id, first_name, last_name) VALUES
           ('00000000-0000-4000-a000-0000000009c1', '00000000-0000-4000-a000-000000000001', 'Sam', 'Client');
         SELECT booking.set_admission_state('00000000-0000-4000-a000-0000000009c1', 'applied', 'the form is in');",
    );
    as_user(
        &mut c,
        "u-staff",
        "INSERT INTO booking.resources (id, organization_id, kind, title, capacity) VALUES
           ('00000000-0000-4000-a000-0000000009a1', '00000000-0000-4000-a000-000000000001', 'person', 'Dr. Ana', 1);
         INSERT INTO booking.professionals (id, organization_id, user_id, resource_id, title, session_minutes) VALUES
           ('00000000-0000-4000-a000-0000000009b1', '00000000-0000-4000-a000-000000000001', 'u-member',
            '00000000-0000-4000-a000-0000000009a1', 'Reading coach', 45);
         SELECT booking.set_admission_state('00000000-0000-4000-a000-0000000009c1', 'under_review');
         SELECT booking.set_admission_state('00000000-0000-4000-a000-0000000009c1', 'admitted', 'a place is free');",
    );
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.book('00000000-0000-4000-a000-0000000009a1', '2031-03-05 10:00 America/New_York',
                             '2031-03-05 10:45 America/New_York', p_title => 'Reading session',
                             p_student_id => '00000000-0000-4000-a000-0000000009c1', p_metadata => '{\"topic\": \"phonics\"}');",
    );
    as_user(
        &mut c,
        "u-member",
        "SELECT booking.set_booking_status((SELECT id FROM booking.bookings WHERE title = 'Reading session'),
                                           'approved', 'see you then');",
    );

    // Engagement: the client writes to the lab's staff, who answer; the client keeps the lab
    // and its printer as favourites; u-client2 reviews their completed booking and the staff
    // reply; the staff name who performs the client's line.
    as_user(
        &mut c,
        "u-client",
        "SELECT booking.start_thread('u-staff', 'Printing', 'Is the printer free on Monday?');
         INSERT INTO booking.customer_favorites (organization_id) VALUES ('00000000-0000-4000-a000-000000000001');
         INSERT INTO booking.customer_favorites (organization_id, resource_id, notes)
           VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102', 'the good one');",
    );
    as_user(
        &mut c,
        "u-staff",
        "SELECT booking.send_message(t.id, 'It is.') FROM booking.message_threads t WHERE t.created_by_id = 'u-client';",
    );
    as_user(
        &mut c,
        "u-client2",
        "INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating, content)
         SELECT organization_id, id, resource_id, booked_by, 5, 'Great lab'
         FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000402';",
    );
    as_user(
        &mut c,
        "u-staff",
        "UPDATE booking.reviews SET reply = 'Thank you!';
         UPDATE booking.booking_services SET staff_id = 'u-admin' WHERE booking_id = '00000000-0000-4000-a000-000000000401';",
    );

    // Calendars: the printer's calendar (its tokens, a weekly event and a one-off), linked to
    // the printer, with a sync reported.
    as_user(
        &mut c,
        "u-staff",
        "INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, name)
           VALUES ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000001', 'google',
                   'printer@example.org', 'Printer');
         INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id)
           VALUES ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000102',
                   '00000000-0000-4000-a000-000000000001');",
    );
    c.batch_execute(
        "SET ROLE service_role;
         INSERT INTO booking.calendar_credentials (integration_id, organization_id, access_token)
           VALUES ('00000000-0000-4000-a000-0000000009e1', '00000000-0000-4000-a000-000000000001', 'ya29.token');
         SELECT booking.upsert_calendar_events('00000000-0000-4000-a000-0000000009e1',
           '[{\"external_id\": \"weekly\", \"start\": \"2031-03-03 09:00\", \"end\": \"2031-03-03 10:00\",
              \"recurrence_rule\": \"FREQ=WEEKLY;COUNT=3\"},
             {\"external_id\": \"once\", \"start\": \"2031-03-04T15:00:00Z\", \"end\": \"2031-03-04T16:00:00Z\"}]');
         SELECT booking.report_sync_result('00000000-0000-4000-a000-0000000009e1', 'syncing');
         SELECT booking.report_sync_result('00000000-0000-4000-a000-0000000009e1', 'success', p_sync_token => 'sync-1');
         RESET ROLE;",
    )
    .unwrap();

    // Intake and digests: a form's booking request approved into a booking (the two linked both
    // ways), an attachment, and a daily digest with an outside writer's insights.
    c.batch_execute(
        "SET ROLE service_role;
         SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-7', 'booking',
           '{\"resource_id\": \"00000000-0000-4000-a000-000000000103\", \"starts_at\": \"2031-03-05 10:00 America/New_York\",
             \"ends_at\": \"2031-03-05 11:00 America/New_York\", \"title\": \"Form booking\"}');
         RESET ROLE;
         SET ROLE authenticated;
         SELECT set_config('request.jwt.claims', '{\"sub\": \"u-staff\", \"role\": \"authenticated\"}', false);
         SELECT booking.process_external_request((SELECT id FROM booking.external_requests WHERE external_id = 'row-7'), 'approve');
         INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
           SELECT organization_id, id, 'form.pdf', 'application/pdf', 100, 'https://files.example/form.pdf'
           FROM booking.external_requests WHERE external_id = 'row-7';
         SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2031-03-05');
         RESET ROLE;
         SELECT set_config('request.jwt.claims', '', false);
         SET ROLE service_role;
         SELECT booking.annotate_digest(id, '[\"One form booking.\"]') FROM booking.digests;
         RESET ROLE;",
    )
    .unwrap();

    // Templates and analytics: the lab's admin words its booking requests; visitors and members
    // track events this month, and the months before hold events of their own (their partitions
    // made at run time, not members of the extension: pg_dump writes them as tables of their own).
    as_user(
        &mut c,
        "u-admin",
        "INSERT INTO booking.notification_templates (organization_id, template_key, channel, locale, subject, body)
           VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', 'email', 'fr', 'À approuver',
                   'Demande : {{title}} ({{starts_at}})');",
    );
    as_user(
        &mut c,
        "u-client",
        "SELECT set_config('request.headers', '{\"user-agent\": \"Test\", \"x-forwarded-for\": \"203.0.113.9\"}', true);
         SELECT booking.track_event('page_view', '{\"organization_id\": \"00000000-0000-4000-a000-000000000001\"}', 's-1', '/lab');",
    );
    c.batch_execute(
        "SELECT booking_internal.analytics_partition(now() - interval '1 month'),
                booking_internal.analytics_partition(now() - interval '2 months');
         INSERT INTO booking.analytics_events (organization_id, verified, user_id, event_type, event_data, ip_address, created_at)
         VALUES ('00000000-0000-4000-a000-000000000001', true, 'u-staff', 'report_viewed', '{\"report\": \"usage\"}',
                 '198.51.100.1', now() - interval '1 month'),
                (NULL, false, NULL, 'page_view', '{}', NULL, now() - interval '2 months');",
    )
    .unwrap();

    // The derived rows the restore must not write again are there.
    let derived: String = c
        .query_one(
            "SELECT concat_ws(' / ',
               (SELECT string_agg(DISTINCT transaction_type, ',') FROM booking.credit_transactions),
               (SELECT string_agg(DISTINCT machine, ',') FROM booking.event_state_transitions),
               (SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',' ORDER BY created_at)
                FROM booking.student_admission_transitions),
               (SELECT count(*) FROM booking.bookings WHERE student_id IS NOT NULL AND metadata <> '{}' AND status = 'approved'),
               (SELECT format('%s threads, %s messages, %s unread, %s replies', count(DISTINCT t.id), count(m.id),
                              max(t.creator_unread_count + t.recipient_unread_count),
                              (SELECT count(*) FROM booking.reviews WHERE replied_by = 'u-staff'))
                FROM booking.message_threads t JOIN booking.messages m ON m.thread_id = t.id),
               (SELECT format('%s busy', count(*)) FROM booking.calendar_busy),
               (SELECT format('request %s, booking %s', r.status, b.title) FROM booking.external_requests r
                JOIN booking.bookings b ON b.id = r.booking_id AND b.external_request_id = r.id))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        derived,
        "appointment_debit,cancellation_refund,purchase / activity,activity_kit,event_instance,staff_assignment \
         / ->prospect,prospect>applied,applied>under_review,under_review>admitted / 1 \
         / 1 threads, 2 messages, 2 unread, 1 replies / 4 busy / request approved, booking Form booking"
    );

    // A resource made unbookable after it was booked: the restore must still bring its bookings back.
    c.batch_execute(
        "UPDATE booking.resources SET is_bookable = false WHERE id = '00000000-0000-4000-a000-000000000101';
         INSERT INTO booking.outbox (organization_id, topic, payload)
         SELECT '00000000-0000-4000-a000-000000000001', 'booking.updated', jsonb_build_object('n', n)
         FROM generate_series(1, 3) n;",
    )
    .unwrap();
    c
}

fn assert_identical_after(
    format_flag: &str,
    restore: impl Fn(&Cluster, &str) -> std::process::Output,
) {
    let cluster = Cluster::start(&format!("dump{format_flag}"));
    let mut src = populated_source(&cluster);
    let before = snapshot(&mut src);
    for (table, rows, _) in &before {
        assert!(
            *rows > 0,
            "the source must have rows in {table} for the test to mean something"
        );
    }

    let file = cluster.dir.join("dump");
    let file = file.to_str().unwrap();
    let out = cluster.client_tool("pg_dump", &[format_flag, "-f", file, "src"]);
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE dst")
        .unwrap();
    let out = restore(&cluster, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "restore reported errors:\n{stderr}"
    );

    let mut dst = cluster.connect("dst");
    assert_eq!(snapshot(&mut dst), before, "rows differ after restore");
    assert_eq!(
        policies_and_grants(&mut dst),
        policies_and_grants(&mut src),
        "policies or grants differ"
    );

    // The restored database still enforces the rules and continues the outbox sequence.
    let err = dst
        .batch_execute(
            "INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at)
             VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', 'x',
                     '2030-03-04 14:30 America/New_York', '2030-03-04 15:00 America/New_York');
             UPDATE booking.bookings SET status = 'pending' WHERE id = '00000000-0000-4000-a000-000000000402';",
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&err).as_deref(),
        Some("23514"),
        "completed -> pending refused after restore: {err:?}"
    );
    let max_before: i64 = src
        .query_one("SELECT max(id) FROM booking.outbox", &[])
        .unwrap()
        .get(0);
    let next: i64 = dst
        .query_one("INSERT INTO booking.outbox (organization_id, topic, payload) VALUES ('00000000-0000-4000-a000-000000000001', 't', '{}') RETURNING id", &[])
        .unwrap()
        .get(0);
    assert!(
        next > max_before,
        "outbox ids continue after restore ({next} <= {max_before})"
    );

    // The analytics partitions came back attached, closed to the API roles, and events go on.
    let partitions = |c: &mut postgres::Client| -> String {
        c.query_one(
            "SELECT string_agg(format('%s %s rls=%s/%s acl=%s', c.relname, pg_get_expr(c.relpartbound, c.oid),
                                      c.relrowsecurity, c.relforcerowsecurity, c.relacl), E'\\n' ORDER BY c.relname)
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'booking.analytics_events'::regclass",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let restored = partitions(&mut dst);
    assert_eq!(
        restored,
        partitions(&mut src),
        "analytics partitions differ"
    );
    assert_eq!(
        restored.lines().count(),
        3,
        "three months of events: {restored}"
    );
    dst.batch_execute("SET ROLE anon; SELECT booking.track_event('after_restore'); RESET ROLE;")
        .unwrap();
}

#[test]
fn custom_format_dump_restores_identically() {
    assert_identical_after("-Fc", |cluster, file| {
        cluster.client_tool("pg_restore", &["--exit-on-error", "-d", "dst", file])
    });
}

#[test]
fn plain_sql_dump_restores_identically() {
    assert_identical_after("-Fp", |cluster, file| {
        cluster.client_tool(
            "psql",
            &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "dst", "-f", file],
        )
    });
}
