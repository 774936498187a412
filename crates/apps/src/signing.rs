//! The keys that sign ID tokens (RS256), published in the JWKS.
//! (Being built: key generation, rotation, the JWKS.)

use crate::AppsState;

/// Signs `claims` as a JWT with the current key (its `kid` in the header).
pub async fn sign_id_token(
    _state: &AppsState,
    _claims: &serde_json::Value,
) -> Result<String, anyhow::Error> {
    anyhow::bail!("ID token signing is not built yet")
}
