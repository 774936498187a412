-- An organization's audit log and events are listed newest first, a page
-- at a time. Walking these indexes backwards finds a page without reading
-- (and sorting) the organization's whole history, however long it grows.
CREATE INDEX audit_log_org_id ON audit_log (organization_id, id);
CREATE INDEX events_org_id ON events (organization_id, id);
