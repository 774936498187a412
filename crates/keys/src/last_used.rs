//! Keys' answer to the usage writer: each batch of metered requests moves
//! the `last_used_at` of the keys it holds.

use landlord_core::ids::ApiKeyId;
use landlord_core::Timestamp;
use landlord_metering::KeysUsed;
use sqlx::AnyConnection;

use crate::store;

/// Hand to `landlord_metering::channel`.
pub struct LastUsed;

#[async_trait::async_trait]
impl KeysUsed for LastUsed {
    async fn used(
        &self,
        conn: &mut AnyConnection,
        last_used: &[(ApiKeyId, Timestamp)],
    ) -> Result<(), sqlx::Error> {
        store::touch_last_used(conn, last_used).await
    }
}
