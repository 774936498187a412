-- Module: Apps. Organizations publish apps; other organizations install
-- them; apps sign people in with Landlord accounts over OAuth 2.1 /
-- OpenID Connect. Every secret and token is stored as its SHA-256 hash;
-- lists of strings are JSON arrays in TEXT; times are Unix milliseconds.

-- An app, which is also an OAuth client: `id` is its `client_id`.
-- `status`: draft → in_review → published, or suspended by an operator
-- (with `status_reason`). A public client has no secret (PKCE only).
CREATE TABLE apps (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug                 TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    category             TEXT NOT NULL DEFAULT 'other',
    icon_url             TEXT,
    homepage_url         TEXT,
    -- The app's own server, behind the gateway on its subdomain.
    upstream_url         TEXT,
    -- Where the app hears app.installed / app.uninstalled / app.scopes_accepted.
    webhook_url          TEXT,
    status               TEXT NOT NULL CHECK (status IN ('draft', 'in_review', 'published', 'suspended')),
    status_reason        TEXT,
    client_type          TEXT NOT NULL CHECK (client_type IN ('public', 'confidential')),
    client_secret_hash   TEXT,
    redirect_uris        TEXT NOT NULL DEFAULT '[]',
    -- Asked of a person who signs in (openid, profile, email, …).
    scopes               TEXT NOT NULL DEFAULT '[]',
    -- Asked of an organization that installs it (organizations:read, …).
    organization_scopes  TEXT NOT NULL DEFAULT '[]',
    -- Lower-case name, description and category: what the directory searches.
    search_text          TEXT NOT NULL DEFAULT '',
    created_by           TEXT REFERENCES users(id) ON DELETE SET NULL,
    published_at         BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX apps_directory ON apps (status, created_at, id);
CREATE INDEX apps_organization ON apps (organization_id, created_at, id);

-- A deleted app's slug, kept from every other organization until `until`
-- (its subdomain must not be taken over while clients still call it).
CREATE TABLE app_slug_quarantine (
    slug            TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    until           BIGINT NOT NULL
);

-- An app installed into an organization, with the organization scopes its
-- owner or admin consented to. Uninstalling sets `uninstalled_at` (the row
-- stays for the audit trail); one live installation per app and org.
CREATE TABLE app_installations (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    scopes           TEXT NOT NULL DEFAULT '[]',
    installed_by     TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    uninstalled_at   BIGINT
);
CREATE INDEX app_installations_app ON app_installations (app_id, organization_id);
CREATE INDEX app_installations_organization ON app_installations (organization_id, created_at);

-- A person's consent to an app: the scopes granted (sorted), for the
-- organization that was active when they allowed it. Asked again when the
-- app asks for a scope outside them; `revoked_at` when they revoke it.
CREATE TABLE oauth_consents (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    organization_id  TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    scopes           TEXT NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);
CREATE INDEX oauth_consents_user ON oauth_consents (user_id, app_id);

-- An authorization code: single use (`used_at`), short-lived, bound to the
-- client, the redirect URI, the PKCE challenge and the person.
CREATE TABLE oauth_codes (
    code_hash        TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id  TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    consent_id       TEXT REFERENCES oauth_consents(id) ON DELETE CASCADE,
    redirect_uri     TEXT NOT NULL,
    code_challenge   TEXT NOT NULL,
    scopes           TEXT NOT NULL DEFAULT '[]',
    nonce            TEXT,
    auth_time        BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);

-- Access and refresh tokens, opaque and stored hashed. A refresh token's
-- `family_id` is shared by every token rotated from the same code; reuse of
-- a rotated refresh token after the grace window revokes the family.
-- `code_hash` names the code that issued the family (a replayed code
-- revokes it). Installation tokens (client credentials) carry
-- `installation_id` and no user.
CREATE TABLE oauth_tokens (
    id               TEXT PRIMARY KEY,
    token_hash       TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    organization_id  TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    installation_id  TEXT REFERENCES app_installations(id) ON DELETE CASCADE,
    consent_id       TEXT REFERENCES oauth_consents(id) ON DELETE CASCADE,
    family_id        TEXT,
    code_hash        TEXT,
    scopes           TEXT NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    -- A refresh token once exchanged: still accepted within the grace
    -- window (two concurrent refreshes), reuse after it revokes the family.
    rotated_at       BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX oauth_tokens_family ON oauth_tokens (family_id);
CREATE INDEX oauth_tokens_code ON oauth_tokens (code_hash);
CREATE INDEX oauth_tokens_installation ON oauth_tokens (installation_id);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id, app_id);

-- The RSA keys that sign ID tokens. The newest active key signs; a retired
-- key stays in the JWKS until `publish_until` (its tokens have expired).
-- The private key is sealed with the server's payload key.
CREATE TABLE oauth_signing_keys (
    kid              TEXT PRIMARY KEY,
    private_key      TEXT NOT NULL,
    public_jwk       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    retired_at       BIGINT,
    publish_until    BIGINT
);
