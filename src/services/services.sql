-- booking_ext, module services: what an organization offers (services, with duration and
-- price) and the booking rules of each (service_rules).

CREATE TABLE booking.services (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  name             text NOT NULL CHECK (length(btrim(name)) > 0) CONSTRAINT services_name_size CHECK (length(name) <= 200),
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 10080),
  price_cents      integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
  currency         text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  is_active        boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id)
);
CREATE INDEX services_organization_id_idx ON booking.services (organization_id);
SELECT booking_internal.register_table('services', 'services', true, 'service');

CREATE TABLE booking.service_rules (
  service_id              uuid PRIMARY KEY,
  organization_id         uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  min_notice_minutes      integer CHECK (min_notice_minutes >= 0),
  max_advance_days        integer CHECK (max_advance_days >= 1),
  requires_deposit        boolean NOT NULL DEFAULT false,
  deposit_cents           integer CHECK (deposit_cents > 0),
  max_concurrent_bookings integer CHECK (max_concurrent_bookings >= 1),
  staff_only              boolean NOT NULL DEFAULT false,
  auto_confirm            boolean NOT NULL DEFAULT false,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT service_rules_deposit CHECK (NOT requires_deposit OR deposit_cents IS NOT NULL),
  FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX service_rules_organization_id_idx ON booking.service_rules (organization_id);
CREATE INDEX service_rules_service_org_idx ON booking.service_rules (service_id, organization_id);
-- log_action names a service's rules by the service.
SELECT booking_internal.register_table('service_rules', 'services', true, 'service_rule', 'service_id');

-- Members read; staff write.

CREATE POLICY services_select ON booking.services FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY service_rules_select ON booking.service_rules FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));

-- The total duration of a list of services (seed 004), each id counted as often as it is
-- listed. Inactive services count 0 minutes; an id that is unknown (or not visible to the
-- caller) raises 22023 rather than silently shortening the total. At most 1000 ids.
CREATE FUNCTION booking.calculate_duration_minutes(p_service_ids uuid[]) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_unknown uuid;
  v_total   bigint;
BEGIN
  IF p_service_ids IS NULL THEN
    RAISE EXCEPTION 'p_service_ids must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(p_service_ids) > 1000 THEN
    RAISE EXCEPTION 'at most 1000 service ids, got %', cardinality(p_service_ids)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT u.id INTO v_unknown FROM unnest(p_service_ids) AS u(id)
  WHERE u.id IS NULL OR NOT EXISTS (SELECT 1 FROM booking.services s WHERE s.id = u.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unknown service %', coalesce(v_unknown::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT coalesce(sum(s.duration_minutes) FILTER (WHERE s.is_active), 0) INTO v_total
  FROM unnest(p_service_ids) AS u(id) JOIN booking.services s ON s.id = u.id;
  RETURN v_total;
END $$;

SELECT booking_internal.create_staff_write_policies(t) FROM unnest(ARRAY['services', 'service_rules']) AS t;

CREATE FUNCTION booking_internal.grant_services_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.grant_execute(p_role, ARRAY['calculate_duration_minutes']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.services, booking.service_rules TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.services IS 'A service an organization offers, with duration and price.';
COMMENT ON TABLE booking.service_rules IS 'Booking rules of one service: notice, horizon, deposit, concurrency, staff-only, auto-confirm.';
COMMENT ON FUNCTION booking.calculate_duration_minutes(uuid[]) IS 'Sum of the services'' durations, each id counted as listed; inactive services count 0; unknown ids raise 22023.';
COMMENT ON FUNCTION booking_internal.grant_services_privileges(text) IS 'Internal: the services module''s grants to an API role (called by grant_api_privileges).';
