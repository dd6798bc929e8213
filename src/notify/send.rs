//! One attempt to deliver one notification to one target. Errors never carry the webhook URL
//! (its path holds the token).

use std::time::Duration;

use super::Notification;

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs the Slack-compatible body; any 2xx is delivered.
pub async fn webhook(client: &reqwest::Client, url: &str, n: &Notification) -> Result<(), String> {
    let resp = client
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(n.webhook_body().to_string())
        .send()
        .await
        .map_err(|e| format!("webhook: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("webhook: HTTP {status}"))
    }
}

/// Publishes to the SNS topic: the headline as subject, the same JSON body as the webhook's as
/// message, and the kind, tenant and recipients as message attributes for subscription filters.
pub async fn sns(
    topic_arn: &str,
    endpoint_url: Option<&str>,
    n: &Notification,
) -> Result<(), String> {
    let region = crate::tenant::notifications::topic_region(topic_arn)
        .ok_or_else(|| "sns: not a topic ARN".to_string())?;
    let conf = crate::aws::sdk_config(&crate::aws::Target {
        region: region.to_string(),
        endpoint_url: endpoint_url.map(str::to_string),
        timeout: ATTEMPT_TIMEOUT,
        // The outbox retries, with back-off.
        max_attempts: 1,
    })
    .await;
    let client = aws_sdk_sns::Client::new(&conf);
    let attr = |v: &str| {
        aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .map_err(|e| format!("sns: {e}"))
    };
    // A subject is one line of at most 100 characters.
    let subject: String = crate::sanitize::line(&n.headline())
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let mut req = client
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(n.webhook_body().to_string())
        .message_attributes("kind", attr(n.kind.as_str())?)
        .message_attributes("tenant", attr(&n.tenant)?);
    if !n.recipients.is_empty() {
        req = req.message_attributes("recipients", attr(&n.recipients.join(","))?);
    }
    if topic_arn.ends_with(".fifo") {
        req = req
            .message_group_id(&n.tenant)
            .message_deduplication_id(&n.id);
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| format!("sns: {}", crate::aws::describe_error("SNS", "Publish", &e)))
}
