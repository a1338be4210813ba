-- Outbox delivery: service_role only; claims lease rows, acks deliver them, failures back off,
-- an expired lease hands rows out again. (Concurrent workers: tests/outbox/outbox_workers.rs.)
-- Inside one transaction now() stands still, so the passing of time is simulated by moving
-- deliver_after back as the superuser.

CREATE FUNCTION pg_temp.time_passes(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$ UPDATE booking.outbox SET deliver_after = now() - interval '1 second' WHERE id = ANY (p_ids) $$;

DO $$
DECLARE
  v_persona text;
  v_sql     text;
  v_due     bigint;
  v_batch   booking.outbox[];
  v_ids     bigint[];
  v_row     booking.outbox;
BEGIN
  -- Nobody but service_role (and the owner).
  FOREACH v_persona IN ARRAY ARRAY['anon', 'client', 'member', 'staff', 'admin', 'outsider'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    FOREACH v_sql IN ARRAY ARRAY['SELECT * FROM booking.claim_outbox()', 'SELECT booking.ack_outbox(''{1}'')',
                                 'SELECT booking.fail_outbox(1, ''down'')'] LOOP
      PERFORM pg_temp.expect_error('42501', v_sql);
    END LOOP;
  END LOOP;

  PERFORM pg_temp.act_as('service_role');
  FOREACH v_sql IN ARRAY ARRAY['SELECT * FROM booking.claim_outbox(NULL, 0)', 'SELECT * FROM booking.claim_outbox(NULL, 1001)',
                               'SELECT * FROM booking.claim_outbox(NULL, NULL)', 'SELECT * FROM booking.claim_outbox(NULL, 10, 0)',
                               'SELECT * FROM booking.claim_outbox(NULL, 10, 3601)', 'SELECT booking.ack_outbox(NULL)',
                               'SELECT booking.ack_outbox(array_fill(1::bigint, ARRAY[10001]))',
                               'SELECT booking.fail_outbox(NULL, ''down'')', 'SELECT booking.fail_outbox(-1, ''down'')'] LOOP
    PERFORM pg_temp.expect_error('22023', v_sql);
  END LOOP;

  SELECT count(*) INTO v_due FROM booking.outbox WHERE delivered_at IS NULL;
  PERFORM pg_temp.check(v_due >= 4, format('fixture events waiting: %s', v_due));
  -- One topic, oldest first, a lease of 60 s, one attempt each.
  SELECT array_agg(o) INTO v_batch FROM booking.claim_outbox('booking.status_changed') o;
  PERFORM pg_temp.check(cardinality(v_batch) >= 1 AND NOT EXISTS (SELECT 1 FROM unnest(v_batch) b WHERE b.topic <> 'booking.status_changed'
                                                                    OR b.attempts <> 1 OR b.deliver_after <> now() + interval '60 seconds'),
                        format('claimed by topic with a lease: %s', v_batch));
  -- The rest, two at a time; claimed rows are not handed out again while leased.
  SELECT array_agg(o.id) INTO v_ids FROM booking.claim_outbox(NULL, 2) o;
  PERFORM pg_temp.check(cardinality(v_ids) = 2 AND NOT (v_ids && (SELECT array_agg(b.id) FROM unnest(v_batch) b)), 'no row twice');
  v_ids := v_ids || (SELECT array_agg(o.id) FROM booking.claim_outbox(NULL, 1000) o);
  PERFORM pg_temp.check(cardinality(v_ids) + cardinality(v_batch) = v_due, 'every due row claimed once');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.claim_outbox()), 'nothing left while leased');

  -- Acknowledged rows are done; acknowledging again changes nothing.
  PERFORM pg_temp.check(booking.ack_outbox(v_ids) = cardinality(v_ids), 'acknowledged');
  PERFORM pg_temp.check(booking.ack_outbox(v_ids) = 0, 'acknowledged once');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.time_passes(v_ids);
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.claim_outbox() WHERE id = ANY (v_ids)), 'delivered rows never come back');

  -- A worker that dies: its lease runs out and the rows are claimable again, one attempt more.
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.time_passes((SELECT array_agg(b.id) FROM unnest(v_batch) b));
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((SELECT array_agg(o.id ORDER BY o.id) FROM booking.claim_outbox() o WHERE o.attempts = 2)
                        = (SELECT array_agg(b.id ORDER BY b.id) FROM unnest(v_batch) b), 'expired leases come back');

  -- Failures back off: 30 s after the first attempt, doubling, at most an hour.
  v_row := booking.fail_outbox(v_batch[1].id, 'HTTP 503');
  PERFORM pg_temp.check(v_row.last_error = 'HTTP 503' AND v_row.deliver_after = now() + interval '60 seconds'
                        AND v_row.delivered_at IS NULL, format('second attempt failed, retry in 60 s: %s', v_row));
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.outbox SET attempts = 0 WHERE id = v_batch[1].id;
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((booking.fail_outbox(v_batch[1].id, '')).deliver_after = now() + interval '30 seconds', 'first retry in 30 s');
  PERFORM pg_temp.check((SELECT last_error FROM booking.outbox WHERE id = v_batch[1].id) = 'unknown error', 'a blank error is named');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.outbox SET attempts = 40 WHERE id = v_batch[1].id;
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((booking.fail_outbox(v_batch[1].id, 'still down')).deliver_after = now() + interval '1 hour', 'at most an hour');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.claim_outbox() WHERE id = v_batch[1].id), 'not before the retry time');
  PERFORM booking.ack_outbox(ARRAY[v_batch[1].id]);
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.fail_outbox(%s, ''late'')', v_batch[1].id));
  PERFORM pg_temp.act_as('superuser');
END $$;
