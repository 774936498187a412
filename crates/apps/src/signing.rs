//! The keys that sign ID tokens (RS256), published in the JWKS.
//!
//! - A 2048-bit RSA key is generated the first time one is needed; several
//!   instances racing to create it insert only if none is active, then all
//!   read back the newest active key, so they sign with the same one.
//! - The private key is stored sealed with the payload key (bound to its
//!   `kid`); the public half is stored as the JWK the JWKS publishes.
//! - Each instance keeps the signing key, parsed, in its [`Keyring`] for
//!   [`CACHE_TTL`], then checks the database again: a rotation made by
//!   another instance (or the command line) is picked up within that time.
//! - [`rotate`] makes a new key that signs from then on; the old one is
//!   retired but stays published until every token it signed has expired
//!   (the ID-token lifetime plus [`CACHE_TTL`]).
//!
//! Tokens are assembled here (header, claims, RSASSA-PKCS1-v1_5 with
//! SHA-256) with the key kept parsed in memory: `jsonwebtoken` can sign
//! RS256 from a DER key but parses that key again for every token.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{Db, Timestamp};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::ids::SigningKeyId;
use crate::store::{self, SigningKeyRow};
use crate::AppsState;

/// Size of a new key's modulus.
pub const KEY_BITS: usize = 2048;

/// The only signing algorithm (OpenID Connect Discovery requires it).
pub const ALGORITHM: &str = "RS256";

/// How long an instance signs with the key it loaded before it looks for
/// a newer one.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// A public key as the JWKS publishes it (RFC 7517, RFC 7518 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Always `RSA`.
    #[schema(example = "RSA")]
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: String,
    /// Always `RS256`.
    #[schema(example = "RS256")]
    pub alg: String,
    /// The key's id, as in the `kid` header of the tokens it signs.
    pub kid: String,
    /// The modulus, base64url without padding.
    pub n: String,
    /// The public exponent, base64url without padding.
    pub e: String,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The key that signs, parsed once.
struct ActiveKey {
    kid: SigningKeyId,
    /// `base64url({"alg":"RS256","typ":"JWT","kid":…})`.
    header: String,
    signer: SigningKey<Sha256>,
}

/// An instance's signing key, kept parsed for [`CACHE_TTL`].
#[derive(Default)]
pub struct Keyring {
    current: RwLock<Option<(Arc<ActiveKey>, Instant)>>,
    /// One load (or first generation) at a time per instance.
    loading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring([redacted])")
    }
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached key, when loaded less than [`CACHE_TTL`] ago.
    fn fresh(&self) -> Option<Arc<ActiveKey>> {
        let current = self.current.read().ok()?;
        current
            .as_ref()
            .filter(|(_, loaded)| loaded.elapsed() < CACHE_TTL)
            .map(|(key, _)| key.clone())
    }

    /// The cached key whatever its age (to skip parsing an unchanged key).
    fn cached(&self) -> Option<Arc<ActiveKey>> {
        let current = self.current.read().ok()?;
        current.as_ref().map(|(key, _)| key.clone())
    }

    fn keep(&self, key: Arc<ActiveKey>) {
        if let Ok(mut current) = self.current.write() {
            *current = Some((key, Instant::now()));
        }
    }

    /// Drops the cached key: the next token loads the newest one.
    pub fn forget(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
    }
}

/// Signs `claims` as a JWT with the current key (its `kid` in the header).
pub async fn sign_id_token(
    state: &AppsState,
    claims: &serde_json::Value,
) -> Result<String, anyhow::Error> {
    sign(
        &state.db,
        &state.identity.payload_cipher,
        &state.keyring,
        claims,
    )
    .await
}

/// [`sign_id_token`] with its parts: the database, the payload cipher that
/// opens the private keys, and the instance's cache.
pub async fn sign(
    db: &Db,
    cipher: &PayloadCipher,
    keyring: &Keyring,
    claims: &serde_json::Value,
) -> Result<String, anyhow::Error> {
    let key = active_key(db, cipher, keyring).await?;
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    tokio::task::spawn_blocking(move || {
        let input = format!("{}.{payload}", key.header);
        let signature = key
            .signer
            .try_sign_with_rng(&mut rand::rngs::OsRng, input.as_bytes())
            .context("cannot sign the ID token")?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    })
    .await
    .context("the signing task stopped")?
}

/// The id of the key that signs now (generating the first one if needed).
pub async fn current_kid(
    db: &Db,
    cipher: &PayloadCipher,
    keyring: &Keyring,
) -> Result<SigningKeyId, anyhow::Error> {
    Ok(active_key(db, cipher, keyring).await?.kid.clone())
}

/// The key that signs: cached, else the newest active one in the database,
/// else a new one (inserted only if no other instance's got there first).
async fn active_key(
    db: &Db,
    cipher: &PayloadCipher,
    keyring: &Keyring,
) -> Result<Arc<ActiveKey>, anyhow::Error> {
    if let Some(key) = keyring.fresh() {
        return Ok(key);
    }
    let _loading = keyring.loading.lock().await;
    if let Some(key) = keyring.fresh() {
        return Ok(key);
    }
    let row = match store::newest_active_signing_key(db.pool()).await? {
        Some(row) => row,
        None => {
            let new = generate(cipher, Timestamp::now()).await?;
            if store::insert_signing_key_if_none_active(db.pool(), &new).await? {
                tracing::info!(kid = %new.kid, "generated the first ID-token signing key");
            }
            store::newest_active_signing_key(db.pool())
                .await?
                .context("no active signing key right after inserting one")?
        }
    };
    let key = match keyring.cached().filter(|key| key.kid == row.kid) {
        Some(unchanged) => unchanged,
        None => Arc::new(open(cipher, &row)?),
    };
    keyring.keep(key.clone());
    Ok(key)
}

/// What a sealed private key is bound to: its kid, so a sealed key copied
/// to another row does not open.
fn context(kid: &SigningKeyId) -> Vec<u8> {
    format!("oauth_signing_key:{kid}").into_bytes()
}

/// A new key's row: the private key sealed, the public JWK.
async fn generate(cipher: &PayloadCipher, now: Timestamp) -> Result<SigningKeyRow, anyhow::Error> {
    let private =
        tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS))
            .await
            .context("the key generation task stopped")?
            .context("cannot generate an RSA key")?;
    let kid = SigningKeyId::generate();
    let der = private
        .to_pkcs8_der()
        .context("cannot encode the RSA key")?;
    let sealed = cipher.seal(der.as_bytes(), &context(&kid))?;
    let jwk = public_jwk(&kid, &private);
    Ok(SigningKeyRow {
        public_jwk: serde_json::to_string(&jwk)?,
        kid,
        private_key: sealed,
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}

/// The public half of `private` as a JWK.
fn public_jwk(kid: &SigningKeyId, private: &RsaPrivateKey) -> Jwk {
    Jwk {
        kty: "RSA".into(),
        use_: "sig".into(),
        alg: ALGORITHM.into(),
        kid: kid.to_string(),
        n: URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        e: URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
    }
}

/// Opens a stored key for signing.
fn open(cipher: &PayloadCipher, row: &SigningKeyRow) -> Result<ActiveKey, anyhow::Error> {
    let der = cipher
        .open(&row.private_key, &context(&row.kid))
        .with_context(|| format!("cannot open signing key {}", row.kid))?;
    let private = RsaPrivateKey::from_pkcs8_der(&der)
        .with_context(|| format!("signing key {} is not an RSA key", row.kid))?;
    let header = serde_json::json!({"alg": ALGORITHM, "typ": "JWT", "kid": row.kid});
    Ok(ActiveKey {
        header: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        kid: row.kid.clone(),
        signer: SigningKey::<Sha256>::new(private),
    })
}

/// Makes a new key that signs from now on; every other key is retired and
/// stays published for `id_token_ttl` (plus [`CACHE_TTL`], while instances
/// still sign with what they loaded). Returns the new key's id.
pub async fn rotate(
    db: &Db,
    cipher: &PayloadCipher,
    id_token_ttl: Duration,
) -> Result<SigningKeyId, anyhow::Error> {
    let now = Timestamp::now();
    let new = generate(cipher, now).await?;
    let mut tx = db.begin().await?;
    store::insert_signing_key(&mut *tx, &new).await?;
    let retired = store::retire_signing_keys_except(
        &mut *tx,
        &new.kid,
        now,
        now.plus(id_token_ttl + CACHE_TTL),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(kid = %new.kid, retired, "ID-token signing key rotated");
    Ok(new.kid)
}

/// The JWKS: the active key (generated if there is none yet) and every
/// retired key still published.
pub async fn jwks(
    db: &Db,
    cipher: &PayloadCipher,
    keyring: &Keyring,
) -> Result<Jwks, anyhow::Error> {
    active_key(db, cipher, keyring).await?;
    let rows = store::published_signing_keys(db.pool(), Timestamp::now()).await?;
    let keys = rows
        .iter()
        .map(|row| {
            serde_json::from_str::<Jwk>(&row.public_jwk)
                .with_context(|| format!("the stored JWK of key {} is malformed", row.kid))
        })
        .collect::<Result<_, _>>()?;
    Ok(Jwks { keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(token: &str, jwk_json: &str) -> jsonwebtoken::TokenData<serde_json::Value> {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(jwk_json).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["client-1"]);
        validation.set_issuer(&["https://id.example.com"]);
        jsonwebtoken::decode(token, &key, &validation).unwrap()
    }

    #[tokio::test]
    async fn a_token_signed_here_verifies_with_the_published_jwk_only() {
        let cipher = PayloadCipher::new(&"k".repeat(64));
        let row = generate(&cipher, Timestamp::now()).await.unwrap();
        assert!(!row.private_key.contains("MII"), "sealed, not PEM or DER");
        let key = open(&cipher, &row).unwrap();
        let keyring = Keyring::new();
        keyring.keep(Arc::new(key));
        let now = Timestamp::now().millis() / 1000;
        let claims = serde_json::json!({
            "iss": "https://id.example.com", "sub": "user-1", "aud": "client-1",
            "iat": now, "exp": now + 300, "nonce": "n-0S6_WzA2Mj",
        });
        // The cached key signs without the database.
        let db = landlord_core::Db::connect_url(
            "sqlite::memory:",
            landlord_core::config::DatabaseKind::Sqlite,
            1,
        )
        .await
        .unwrap();
        let token = sign(&db, &cipher, &keyring, &claims).await.unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(row.kid.as_str()));
        let data = decoded(&token, &row.public_jwk);
        assert_eq!(data.claims, claims);

        // The JWK's fields.
        let jwk: serde_json::Value = serde_json::from_str(&row.public_jwk).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().unwrap())
                .unwrap()
                .len(),
            KEY_BITS / 8
        );

        // Another key's JWK refuses it; an altered payload is refused.
        let other = generate(&cipher, Timestamp::now()).await.unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&other.public_jwk).unwrap();
        let wrong = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["client-1"]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        parts[1] = &forged;
        let right: jsonwebtoken::jwk::Jwk = serde_json::from_str(&row.public_jwk).unwrap();
        assert!(jsonwebtoken::decode::<serde_json::Value>(
            &parts.join("."),
            &jsonwebtoken::DecodingKey::from_jwk(&right).unwrap(),
            &validation
        )
        .is_err());
    }

    #[tokio::test]
    async fn a_sealed_key_opens_only_with_its_kid_and_the_payload_key() {
        let cipher = PayloadCipher::new(&"k".repeat(64));
        let row = generate(&cipher, Timestamp::now()).await.unwrap();
        let moved = SigningKeyRow {
            kid: SigningKeyId::generate(),
            ..row.clone()
        };
        assert!(open(&cipher, &moved).is_err());
        assert!(open(&PayloadCipher::new(&"x".repeat(64)), &row).is_err());
        assert!(open(&cipher, &row).is_ok());
    }

    async fn memory_db() -> Db {
        let db = Db::connect_url(
            "sqlite::memory:",
            landlord_core::config::DatabaseKind::Sqlite,
            1,
        )
        .await
        .unwrap();
        crate::MIGRATOR.run(db.pool()).await.unwrap();
        db
    }

    #[tokio::test]
    async fn instances_share_the_first_key_and_a_rotation_keeps_the_old_one_published() {
        let db = memory_db().await;
        let cipher = PayloadCipher::new(&"k".repeat(64));
        let (one, two) = (Keyring::new(), Keyring::new());
        assert!(jwks_kids(&db).await.is_empty());
        let (a, b) = tokio::join!(
            current_kid(&db, &cipher, &one),
            current_kid(&db, &cipher, &two)
        );
        let first = a.unwrap();
        assert_eq!(first, b.unwrap(), "both instances sign with the same key");
        assert_eq!(jwks_kids(&db).await, vec![first.to_string()]);

        let second = rotate(&db, &cipher, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_ne!(second, first);
        // An instance signs with what it loaded until its cache expires…
        assert_eq!(current_kid(&db, &cipher, &one).await.unwrap(), first);
        // …and then with the new key.
        one.forget();
        let claims = serde_json::json!({"sub": "u"});
        let token = sign(&db, &cipher, &one, &claims).await.unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(second.as_str()));
        // Both are published: the old key's tokens still verify.
        let set = jwks(&db, &cipher, &one).await.unwrap();
        let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, vec![second.as_str(), first.as_str()]);
        let rows = store::published_signing_keys(db.pool(), Timestamp::now())
            .await
            .unwrap();
        let retired = rows.iter().find(|r| r.kid == first).unwrap();
        let until = retired.publish_until.unwrap();
        let expected = retired
            .retired_at
            .unwrap()
            .plus(Duration::from_secs(3600) + CACHE_TTL);
        assert_eq!(until, expected);
        // After publish_until, the retired key is gone from the set.
        let later = store::published_signing_keys(db.pool(), until.plus(Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].kid, second);
    }

    async fn jwks_kids(db: &Db) -> Vec<String> {
        store::published_signing_keys(db.pool(), Timestamp::now())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.kid.to_string())
            .collect()
    }
}
