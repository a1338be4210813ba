-- booking_ext, module platform, last step of the install script (after every module).
-- No function of the two schemas is executable by PUBLIC; grant_api_privileges() grants each
-- to the API roles that should call it (each module's grant_<module>_privileges says which),
-- now and whenever create_api_roles() runs later.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA booking, booking_internal FROM PUBLIC;
SELECT booking.grant_api_privileges();

-- The platform's native functions (mod.rs beside this file) exist only now.
COMMENT ON FUNCTION booking.is_valid_time_zone(text) IS 'True when the name is an IANA time zone (exact spelling) that both Postgres and the engine''s time-zone database know; the rule the tables'' time_zone columns are checked with.';
COMMENT ON FUNCTION booking_internal.is_bulk_load() IS 'Internal: true while a pg_dump restore loads rows (row_security off in a session logged in as a role that bypasses RLS); act rules and audit side effects are skipped then. An API session never counts, whatever it sets.';
COMMENT ON FUNCTION booking_internal.is_privileged() IS 'Internal: true when the role the caller acts as (its SET ROLE, else its login role; never the owner of a SECURITY DEFINER function) is a superuser or bypasses row-level security.';
COMMENT ON FUNCTION booking_internal.written_by_this_transaction(xid) IS 'Internal: true when a row version (its xmin) was written by this transaction or a live subtransaction of it; the row locks use it to take each lock once.';
