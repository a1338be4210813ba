-- booking_ext, module resources: what can be booked (resources) and when it is open (weekly
-- availability_rules in local wall-clock time, availability_exceptions as instants).

CREATE TABLE booking.resources (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id       uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  kind                  text NOT NULL DEFAULT 'other'
                        CHECK (kind IN ('space', 'equipment', 'person', 'other')),
  title                 text NOT NULL CHECK (length(btrim(title)) > 0) CONSTRAINT resources_title_size CHECK (length(title) <= 200),
  description           text CONSTRAINT resources_description_size CHECK (length(description) <= 4000),
  capacity              integer NOT NULL DEFAULT 1 CHECK (capacity >= 1),
  time_zone             text,     -- NULL: the organization's
  is_bookable           boolean NOT NULL DEFAULT true,
  auto_approve          boolean NOT NULL DEFAULT false,
  buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 1440),
  buffer_after_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 1440),
  slot_interval_minutes integer CHECK (slot_interval_minutes BETWEEN 1 AND 1440),
  min_notice_minutes    integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes >= 0),
  max_advance_days      integer CHECK (max_advance_days >= 1),
  -- The longest booking someone who is not the organization's staff may make (book() and the
  -- table alike): a week unless the organization says otherwise, at most 366 days.
  max_booking_minutes   integer NOT NULL DEFAULT 10080 CHECK (max_booking_minutes BETWEEN 1 AND 527040),
  external_calendar_id  text CONSTRAINT resources_external_calendar_id_size CHECK (length(external_calendar_id) <= 200),
  metadata              jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object') CONSTRAINT resources_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  -- Target of the (id, organization_id) foreign keys that keep children in their resource's tenant.
  UNIQUE (id, organization_id)
);
CREATE INDEX resources_organization_id_idx ON booking.resources (organization_id, is_bookable);
SELECT booking_internal.register_table('resources', 'resources', true, 'resource');

CREATE TABLE booking.availability_rules (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id     uuid,    -- NULL: the organization's default hours
  day_of_week     smallint NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),  -- 0 = Sunday, as extract(dow)
  start_time      time NOT NULL,
  end_time        time NOT NULL,  -- may be 24:00
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT availability_rules_time_order CHECK (end_time > start_time),
  FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX availability_rules_organization_id_idx ON booking.availability_rules (organization_id);
CREATE INDEX availability_rules_resource_id_idx ON booking.availability_rules (resource_id, organization_id);
SELECT booking_internal.register_table('availability_rules', 'resources', true, 'availability_rule');

CREATE TABLE booking.availability_exceptions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id     uuid,    -- NULL: the whole organization
  during          tstzrange NOT NULL,
  kind            text NOT NULL DEFAULT 'closed' CHECK (kind IN ('closed', 'open')),
  reason          text CONSTRAINT availability_exceptions_reason_size CHECK (length(reason) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT availability_exceptions_bounded CHECK (
    NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)
    AND isfinite(lower(during)) AND isfinite(upper(during))),
  FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX availability_exceptions_organization_id_idx
  ON booking.availability_exceptions USING gist (organization_id, during);
CREATE INDEX availability_exceptions_resource_id_idx
  ON booking.availability_exceptions (resource_id, organization_id);

SELECT booking_internal.register_table('availability_exceptions', 'resources', true, 'availability_exception');

CREATE TRIGGER resources_1_time_zone BEFORE INSERT OR UPDATE OF time_zone ON booking.resources
  FOR EACH ROW EXECUTE FUNCTION booking_internal.check_time_zone();

-- Who may see a resource: the members of its organization, and anyone a bookable resource of a
-- public organization. The one definition: the resources policy and the availability engine
-- (which runs as the owner and checks itself) both ask it. Inlined by the planner, so the
-- policy's membership lists stay sub-selects computed once per query.
CREATE FUNCTION booking_internal.resource_is_visible(p_caller_is_member boolean, p_organization_is_public boolean,
                                                     p_is_bookable boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_caller_is_member OR (p_is_bookable AND p_organization_is_public);

-- Catalogue tables: members read, staff manage. Resources and opening hours of public
-- organizations are readable by anyone (only bookable resources).
CREATE POLICY resources_select ON booking.resources FOR SELECT
  USING (booking_internal.resource_is_visible(
           organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]),
           organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[]),
           is_bookable));
CREATE POLICY availability_rules_select ON booking.availability_rules FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])
         OR organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[]));
CREATE POLICY availability_exceptions_select ON booking.availability_exceptions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));

SELECT booking_internal.create_staff_write_policies(t)
FROM unnest(ARRAY['resources', 'availability_rules', 'availability_exceptions']) AS t;

-- Who may read resources and hours, and write them.
CREATE FUNCTION booking_internal.grant_resources_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- the resources policy calls it as the caller
  PERFORM booking_internal.grant_execute(p_role, ARRAY['resource_is_visible']);
  IF p_role = 'anon' THEN
    -- What a public booking page needs, and no more: not a resource's metadata or calendar id
    -- (anonymous callers name their columns; `*` is refused).
    REVOKE SELECT ON booking.resources FROM anon;
    GRANT SELECT (id, organization_id, kind, title, description, capacity, time_zone, is_bookable,
                  auto_approve, buffer_before_minutes, buffer_after_minutes, slot_interval_minutes,
                  min_notice_minutes, max_advance_days, max_booking_minutes)
      ON booking.resources TO anon;
    GRANT SELECT ON booking.availability_rules TO anon;
  ELSIF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.resources, booking.availability_rules,
      booking.availability_exceptions TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.resources IS 'Something bookable (space, equipment, person, other) with capacity, time zone, approval, buffers, slot interval, notice and horizon.';
COMMENT ON TABLE booking.availability_rules IS 'Weekly opening hours in local wall-clock time; resource_id NULL is the organization default; several rows a day express breaks.';
COMMENT ON TABLE booking.availability_exceptions IS 'A closed or open time range for a resource or (resource_id NULL) the whole organization.';
COMMENT ON COLUMN booking.resources.max_booking_minutes IS 'The longest booking someone who is not the organization''s staff may make (book() and the table alike); default a week, at most 366 days.';
COMMENT ON FUNCTION booking_internal.grant_resources_privileges(text) IS 'Internal: the resources module''s grants to an API role (called by grant_api_privileges).';
COMMENT ON FUNCTION booking_internal.resource_is_visible(boolean, boolean, boolean) IS 'Who may see a resource: the members of its organization, and anyone a bookable resource of a public organization (the resources policy and the availability engine ask it).';
