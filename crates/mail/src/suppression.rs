//! The suppression list: addresses Landlord no longer mails. A permanent
//! SMTP refusal (5xx) of a mail job, a permanent bounce or a complaint
//! reported by the provider's bounce webhook puts an address on it (with
//! an audit entry); the mail job then skips it, and an operator lifts it.

use landlord_audit::AuditEntry;
use landlord_core::{Db, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::store::{self, SuppressionRow};

landlord_core::text_enum!(
    /// Why an address is suppressed.
    pub enum SuppressionReason {
        /// The SMTP server refused the recipient for good (a 5xx reply).
        SmtpPermanent = "smtp_permanent",
        /// The provider reported a permanent bounce.
        Bounce = "bounce",
        /// The recipient marked a mail as spam.
        Complaint = "complaint",
    }
);

/// The form an address is kept and compared in: trimmed, lowercased.
pub fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Audit action of an address put on the list.
pub const SUPPRESSED_ACTION: &str = "mail.address_suppressed";

/// Puts `address` on the list with an audit entry (platform-wide: no
/// organization), in one transaction; `false` when it already was.
pub async fn suppress(
    db: &Db,
    address: &str,
    reason: SuppressionReason,
    smtp_code: Option<u16>,
    description: Option<String>,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let address = normalize(address);
    let row = SuppressionRow {
        address: address.clone(),
        reason,
        smtp_code: smtp_code.map(i64::from),
        description: description.clone(),
        source: source.to_string(),
        created_at: Timestamp::now(),
    };
    let mut tx = db.begin().await?;
    let added = store::insert(&mut *tx, &row).await?;
    if added {
        landlord_audit::record(
            &mut *tx,
            AuditEntry::new(SUPPRESSED_ACTION)
                .target("email", &address)
                .details(json!({
                    "reason": reason,
                    "smtp_code": smtp_code,
                    "description": description,
                    "source": source,
                })),
        )
        .await?;
    }
    tx.commit().await?;
    if added {
        metrics::counter!("mail_suppressions_added_total", "reason" => reason.as_str())
            .increment(1);
        tracing::warn!(reason = %reason, source, "mail address suppressed");
    }
    Ok(added)
}

/// Whether `address` is on the list.
pub async fn is_suppressed(db: &Db, address: &str) -> Result<bool, sqlx::Error> {
    Ok(store::find(db.pool(), &normalize(address)).await?.is_some())
}

/// What a bounce notification reports about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceReport {
    pub address: String,
    pub kind: BounceKind,
    /// A hard bounce (the address does not exist, …); complaints are.
    pub permanent: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BounceKind {
    Bounce,
    Complaint,
}

impl BounceReport {
    /// The reason it suppresses the address for, or `None` (a transient
    /// bounce: the address is kept).
    pub fn reason(&self) -> Option<SuppressionReason> {
        match self.kind {
            BounceKind::Complaint => Some(SuppressionReason::Complaint),
            BounceKind::Bounce if self.permanent => Some(SuppressionReason::Bounce),
            BounceKind::Bounce => None,
        }
    }
}

/// Landlord's documented bounce notification.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BounceNotice {
    /// `bounce` or `complaint`.
    #[serde(rename = "type")]
    pub kind: BounceKind,
    /// The address that bounced or complained.
    #[schema(min_length = 3, max_length = 320)]
    pub address: String,
    /// A hard (permanent) bounce; a soft one is ignored. Complaints
    /// always suppress. Default `true`.
    #[serde(default = "yes")]
    pub permanent: bool,
    /// What the provider says (kept with the suppression).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// Why a notification could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood {
    /// The field at fault.
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> NotUnderstood {
    NotUnderstood {
        field,
        message: message.into(),
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string).filter(|s| !s.is_empty())
}

fn checked_address(address: &str) -> Result<String, NotUnderstood> {
    let address = normalize(address);
    let valid = address.len() <= 320
        && address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.chars().any(char::is_whitespace);
    if valid {
        Ok(address)
    } else {
        Err(refuse("address", "must be an email address"))
    }
}

/// Reads a bounce notification in one of the shapes the webhook accepts:
/// Landlord's own JSON ([`BounceNotice`]), Postmark's bounce and spam
/// complaint webhooks (`RecordType`), or an Amazon SES notification
/// delivered by SNS (the SNS envelope's `Message`, or the SES JSON itself).
/// An SNS subscription confirmation reads as no report.
pub fn parse_notification(body: &Value) -> Result<Vec<BounceReport>, NotUnderstood> {
    if !body.is_object() {
        return Err(refuse("body", "must be a JSON object"));
    }
    // Amazon SNS: the SES notification is a JSON string in `Message`.
    if let Some(kind) = body.get("Type").and_then(Value::as_str) {
        if body.get("TopicArn").is_some() || body.get("Message").is_some() {
            return match kind {
                "Notification" => {
                    let message = body["Message"]
                        .as_str()
                        .ok_or_else(|| refuse("Message", "must be the SES notification"))?;
                    let ses: Value = serde_json::from_str(message)
                        .map_err(|_| refuse("Message", "must be the SES notification"))?;
                    parse_ses(&ses)
                }
                // Confirmed by visiting its SubscribeURL (logged by the route).
                "SubscriptionConfirmation" | "UnsubscribeConfirmation" => Ok(Vec::new()),
                _ => Err(refuse("Type", "is not an SNS notification")),
            };
        }
    }
    if body.get("notificationType").is_some() || body.get("eventType").is_some() {
        return parse_ses(body);
    }
    if let Some(record) = body.get("RecordType").and_then(Value::as_str) {
        return parse_postmark(record, body);
    }
    let notice: BounceNotice = serde_json::from_value(body.clone())
        .map_err(|e| refuse("body", format!("is not a bounce notification: {e}")))?;
    Ok(vec![BounceReport {
        address: checked_address(&notice.address)?,
        kind: notice.kind,
        permanent: notice.permanent,
        description: notice.description.map(|d| d.chars().take(1000).collect()),
    }])
}

/// Postmark's bounce (`RecordType: Bounce`, `Type: HardBounce`, …) and spam
/// complaint (`RecordType: SpamComplaint`) webhooks.
fn parse_postmark(record: &str, body: &Value) -> Result<Vec<BounceReport>, NotUnderstood> {
    let address = text(&body["Email"]).ok_or_else(|| refuse("Email", "is required"))?;
    let address = checked_address(&address)?;
    let description = text(&body["Description"]).or_else(|| text(&body["Details"]));
    let kind_name = body["Type"].as_str().unwrap_or("");
    let (kind, permanent) = match record {
        "SpamComplaint" => (BounceKind::Complaint, true),
        "Bounce" => match kind_name {
            "SpamComplaint" | "SpamNotification" => (BounceKind::Complaint, true),
            "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" | "Blocked" => {
                (BounceKind::Bounce, true)
            }
            _ => (BounceKind::Bounce, false),
        },
        _ => return Err(refuse("RecordType", "must be Bounce or SpamComplaint")),
    };
    Ok(vec![BounceReport {
        address,
        kind,
        permanent,
        description,
    }])
}

/// An Amazon SES bounce or complaint notification (`notificationType`, or
/// `eventType` for event publishing); deliveries and other types read as
/// no report.
fn parse_ses(ses: &Value) -> Result<Vec<BounceReport>, NotUnderstood> {
    let kind = ses
        .get("notificationType")
        .or_else(|| ses.get("eventType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (kind, list, recipients, permanent, description) = match kind {
        "Bounce" => {
            let bounce = &ses["bounce"];
            let bounce_type = bounce["bounceType"].as_str().unwrap_or("");
            let sub = bounce["bounceSubType"].as_str().unwrap_or("");
            (
                BounceKind::Bounce,
                "bounce",
                &bounce["bouncedRecipients"],
                bounce_type == "Permanent",
                Some(format!("{bounce_type} {sub}").trim().to_string()),
            )
        }
        "Complaint" => {
            let complaint = &ses["complaint"];
            (
                BounceKind::Complaint,
                "complaint",
                &complaint["complainedRecipients"],
                true,
                text(&complaint["complaintFeedbackType"]).map(|t| format!("complaint: {t}")),
            )
        }
        _ => return Ok(Vec::new()),
    };
    let recipients = recipients.as_array().ok_or_else(|| {
        refuse(
            if list == "bounce" {
                "bounce"
            } else {
                "complaint"
            },
            "has no recipients",
        )
    })?;
    recipients
        .iter()
        .map(|recipient| {
            let address = text(&recipient["emailAddress"])
                .ok_or_else(|| refuse("emailAddress", "is required"))?;
            Ok(BounceReport {
                address: checked_address(&address)?,
                kind,
                permanent,
                description: text(&recipient["diagnosticCode"]).or_else(|| description.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_json_reads_and_defaults_to_permanent() {
        let reports = parse_notification(&json!({
            "type": "bounce", "address": " Ada@Example.COM ", "description": "mailbox unknown"
        }))
        .unwrap();
        assert_eq!(
            reports,
            vec![BounceReport {
                address: "ada@example.com".into(),
                kind: BounceKind::Bounce,
                permanent: true,
                description: Some("mailbox unknown".into()),
            }]
        );
        assert_eq!(reports[0].reason(), Some(SuppressionReason::Bounce));
        let soft =
            parse_notification(&json!({"type": "bounce", "address": "a@b.c", "permanent": false}))
                .unwrap();
        assert_eq!(soft[0].reason(), None);
        let complaint = parse_notification(
            &json!({"type": "complaint", "address": "a@b.c", "permanent": false}),
        )
        .unwrap();
        assert_eq!(complaint[0].reason(), Some(SuppressionReason::Complaint));
        assert!(parse_notification(&json!({"type": "bounce", "address": "nobody"})).is_err());
        assert!(parse_notification(&json!({"type": "bounced", "address": "a@b.c"})).is_err());
        assert!(parse_notification(&json!([1])).is_err());
    }

    #[test]
    fn postmark_hard_bounces_and_complaints_suppress_soft_ones_do_not() {
        let hard = parse_notification(&json!({
            "RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1,
            "Email": "john@example.com", "Description": "The server was unable to deliver your message"
        }))
        .unwrap();
        assert_eq!(hard[0].reason(), Some(SuppressionReason::Bounce));
        let soft = parse_notification(&json!({
            "RecordType": "Bounce", "Type": "SoftBounce", "Email": "john@example.com"
        }))
        .unwrap();
        assert_eq!(soft[0].reason(), None);
        let spam = parse_notification(&json!({
            "RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "john@example.com"
        }))
        .unwrap();
        assert_eq!(spam[0].reason(), Some(SuppressionReason::Complaint));
    }

    #[test]
    fn ses_notifications_through_sns_read_every_recipient() {
        let ses = json!({
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": "a@example.com", "diagnosticCode": "smtp; 550 5.1.1 user unknown"},
                    {"emailAddress": "B@example.com"}
                ]
            },
            "mail": {"messageId": "x"}
        });
        let sns = json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:1:ses",
            "Message": ses.to_string()
        });
        let reports = parse_notification(&sns).unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[1].address, "b@example.com");
        assert_eq!(
            reports[0].description.as_deref(),
            Some("smtp; 550 5.1.1 user unknown")
        );
        assert!(reports
            .iter()
            .all(|r| r.reason() == Some(SuppressionReason::Bounce)));
        let transient = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Transient",
            "bouncedRecipients": [{"emailAddress": "a@example.com"}]}});
        assert_eq!(parse_notification(&transient).unwrap()[0].reason(), None);
        let confirmation = json!({"Type": "SubscriptionConfirmation", "TopicArn": "t",
            "Message": "You have chosen to subscribe", "SubscribeURL": "https://example.com/x"});
        assert!(parse_notification(&confirmation).unwrap().is_empty());
        let delivery = json!({"notificationType": "Delivery", "delivery": {}});
        assert!(parse_notification(&delivery).unwrap().is_empty());
    }
}
