//! Apps: the provider's discovery documents, its JWKS, and rotating the
//! key that signs ID tokens from the command line. Over HTTP, on SQLite
//! and PostgreSQL; signatures checked by `authlib`, a library no one here
//! wrote.

use std::process::{Command, Stdio};

use landlord_apps::signing::{self, Keyring};
use landlord_core::sealed::PayloadCipher;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::app::{json, report_skip, services_required, TestApp};
use crate::support::binary::BINARY;
use crate::support::Backend;

backend_tests!(
    both_discovery_documents_describe_the_provider,
    the_jwks_publishes_the_key_that_signs,
    a_rotation_signs_with_the_new_key_and_keeps_the_old_one_published,
);

const PUBLIC_URL: &str = "https://id.landlord.test/";
const PAYLOAD_KEY: &str = "a-payload-key-for-the-apps-key-tests-0123456789abcdef";

async fn provider(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        c.payload_encryption_key = Some(PAYLOAD_KEY.to_owned().into());
    })
    .await
}

async fn both_discovery_documents_describe_the_provider(backend: Backend) {
    let app = provider(backend).await;
    let issuer = "https://id.landlord.test";
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), 200, "{path}");
        let cache = answer.headers()["cache-control"].to_str().unwrap();
        assert!(cache.contains("max-age"), "{cache}");
        let doc = json(answer).await;
        assert_eq!(doc["issuer"], issuer, "no trailing slash: {doc}");
        for (field, path) in [
            ("authorization_endpoint", "/oauth/authorize"),
            ("token_endpoint", "/oauth/token"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
            ("userinfo_endpoint", "/oauth/userinfo"),
            ("jwks_uri", "/oauth/jwks"),
        ] {
            assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
        }
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "client_credentials"])
        );
        let auth = json!(["client_secret_basic", "client_secret_post", "none"]);
        assert_eq!(doc["token_endpoint_auth_methods_supported"], auth);
        assert_eq!(doc["revocation_endpoint_auth_methods_supported"], auth);
        assert_eq!(doc["introspection_endpoint_auth_methods_supported"], auth);
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        let scopes: Vec<&str> = doc["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for scope in ["openid", "profile", "email", "organizations:read"] {
            assert!(scopes.contains(&scope), "{scope} in {scopes:?}");
        }
        let claims = doc["claims_supported"].as_array().unwrap();
        for claim in ["sub", "iss", "nonce", "email", "name"] {
            assert!(claims.contains(&json!(claim)), "{claim} in {claims:?}");
        }
    }
    // Switched off, the provider is gone.
    let off = TestApp::spawn_with(backend, |c| c.apps.enabled = false).await;
    for path in ["/.well-known/openid-configuration", "/oauth/jwks"] {
        assert_eq!(off.get(path).await.status(), 404, "{path}");
    }
}

async fn the_jwks_publishes_the_key_that_signs(backend: Backend) {
    let app = provider(backend).await;
    let answer = app.get("/oauth/jwks").await;
    assert_eq!(answer.status(), 200);
    let cache = answer.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age=300"), "{cache}");
    let set = json(answer).await;
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    assert!(key.get("d").is_none(), "no private part: {key}");
    let kid = key["kid"].as_str().unwrap().to_owned();
    // The same key on every request (it was generated once).
    let again = json(app.get("/oauth/jwks").await).await;
    assert_eq!(again["keys"][0]["kid"], kid.as_str());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_signing_keys", &[])
            .await,
        1
    );
    // The private key is stored sealed.
    let (stored,): (String,) =
        sqlx::query_as("SELECT private_key FROM oauth_signing_keys WHERE kid = $1")
            .bind(&kid)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");

    // What the server signs (as the token endpoint will) verifies with the
    // published set, in a library no one here wrote.
    let token = sign(&app, &json!({"sub": "someone"})).await;
    let header = jsonwebtoken_header(&token);
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "RS256");
    verified_by_authlib(backend, &set, &token, "someone");
}

async fn a_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(backend: Backend) {
    let app = provider(backend).await;
    let first = json(app.get("/oauth/jwks").await).await["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = sign(&app, &json!({"sub": "before"})).await;

    let output = Command::new(BINARY)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANDLORD_DATA_DIR", app.data_dir())
        .env("LANDLORD_DATABASE_URL", app.database_url().expose_str())
        .env("LANDLORD_PAYLOAD_ENCRYPTION_KEY", PAYLOAD_KEY)
        .env("LANDLORD_LOG_LEVEL", "warn")
        .current_dir(app.data_dir())
        .args(["apps", "rotate-signing-key"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let second = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(second.len(), 36, "the new kid is printed: {second:?}");
    assert_ne!(second, first);

    // Both published, the new one first.
    let set = json(app.get("/oauth/jwks").await).await;
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, vec![second.as_str(), first.as_str()]);
    // The old key is retired and published until its tokens have expired.
    let (retired, until): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT retired_at, publish_until FROM oauth_signing_keys WHERE kid = $1")
            .bind(&first)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let ttl_ms = 1000 * app.config.apps.id_token_ttl_secs as i64;
    let cache_ms = signing::CACHE_TTL.as_millis() as i64;
    assert_eq!(until.unwrap() - retired.unwrap(), ttl_ms + cache_ms);

    // A new instance (or one whose cache expired) signs with the new key;
    // a token of the old key still verifies with the set.
    let after = sign(&app, &json!({"sub": "after"})).await;
    assert_eq!(jsonwebtoken_header(&after)["kid"], second.as_str());
    verified_by_authlib(backend, &set, &after, "after");
    verified_by_authlib(backend, &set, &before, "before");
    // A second rotation retires the second key; the first stays listed
    // while its publication lasts.
    let again = Command::new(BINARY)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANDLORD_DATA_DIR", app.data_dir())
        .env("LANDLORD_DATABASE_URL", app.database_url().expose_str())
        .env("LANDLORD_PAYLOAD_ENCRYPTION_KEY", PAYLOAD_KEY)
        .env("LANDLORD_LOG_LEVEL", "warn")
        .current_dir(app.data_dir())
        .args(["apps", "rotate-signing-key"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    let set = json(app.get("/oauth/jwks").await).await;
    assert_eq!(set["keys"].as_array().unwrap().len(), 3, "{set}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oauth_signing_keys WHERE retired_at IS NULL",
            &[]
        )
        .await,
        1
    );
}

/// Signs `claims` as the server does, with a fresh instance cache (so the
/// newest key in the database signs).
async fn sign(app: &TestApp, claims: &Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = claims.clone();
    claims["iss"] = json!("https://id.landlord.test");
    claims["aud"] = json!("client-1");
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 600);
    signing::sign(
        &app.db,
        &PayloadCipher::new(PAYLOAD_KEY),
        &Keyring::new(),
        &claims,
    )
    .await
    .unwrap()
}

fn jsonwebtoken_header(token: &str) -> Value {
    use base64::Engine;
    let first = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// authlib imports the JWKS (`JsonWebKey.import_key_set`), picks the key by
/// the token's `kid`, verifies the RS256 signature and the claims.
fn verified_by_authlib(backend: Backend, jwks: &Value, token: &str, subject: &str) {
    const SCRIPT: &str = r#"
import json, sys
from authlib.jose import JsonWebKey, jwt
request = json.load(sys.stdin)
keys = JsonWebKey.import_key_set(request["jwks"])
claims = jwt.decode(request["token"], keys, claims_options={
    "iss": {"essential": True, "value": "https://id.landlord.test"},
    "aud": {"essential": True, "value": "client-1"},
})
claims.validate()
print(json.dumps({"sub": claims["sub"], "kids": [k.kid for k in keys.keys]}))
"#;
    let test = format!("apps_keys ({backend:?}): authlib verifies ID tokens");
    let Some(python) = crate::support::python::python_with("authlib.jose") else {
        let why = "no python with authlib (set TEST_PYTHON or run .ci/run once)";
        assert!(!services_required(), "{test}: required under CI: {why}");
        report_skip(&test, why);
        return;
    };
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    let input = json!({"jwks": jwks, "token": token});
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "authlib refused the token: {output:?}"
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["sub"], subject, "{answer}");
}
