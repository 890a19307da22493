-- Deleting a client (`portcullis client delete`, RFC 7592 DELETE) deletes its grants, its codes
-- not yet redeemed and its users' consents in the same write transaction: these indexes find
-- them without scanning the tables while the writer is held.
CREATE INDEX grants_by_client ON grants (client_id);
CREATE INDEX authorization_codes_by_client ON authorization_codes (client_id);
CREATE INDEX consents_by_client ON consents (client_id);
